"""The fault interface (Jepsen's nemesis: invoke, then teardown) and the registry of kinds."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import ClassVar

from pulltheplug.cluster.seam import DEADMAN_MARGIN, Cluster, ClusterNode, Evidence
from pulltheplug.errors import FaultError
from pulltheplug.spec import FaultSpec


@dataclass(frozen=True)
class FaultContext:
    """What a fault may need besides its node: the cluster's nodes at the start, the service under load."""

    nodes: list[ClusterNode] = field(default_factory=list)
    leader: str | None = None
    service: str = ""
    seed: int | None = None
    with_task: list[str] = field(default_factory=list)  # nodes a task of the service runs on


class Fault(ABC):
    """One fault on one node (or a few: `nodes`) for `duration` seconds. `inject` and `revert` return the
    cluster's evidence."""

    kind: ClassVar[str]

    def __init__(self, cluster: Cluster, node: str, duration: float, spec: FaultSpec | None = None,
                 context: FaultContext | None = None) -> None:
        self.cluster = cluster
        self.node = node
        self.duration = duration
        self.spec = spec or FaultSpec(kind=self.kind, target=node, duration=duration)
        self.context = context or FaultContext()

    @property
    def nodes(self) -> list[str]:
        """Every node the fault touches (the target first)."""
        return [self.node]

    def describe(self) -> Evidence:
        """What the run records of the fault's shape besides its kind and node (groups, percent...)."""
        return {}

    @property
    def deadman(self) -> float:
        """Seconds after which the node reverts the fault by itself (a safety net behind the run's own
        revert), where the backend can arm that."""
        return self.duration + DEADMAN_MARGIN

    def arm(self) -> Evidence:
        """The dead-man revert, armed on each node before the fault's clock starts (so the fault starts when
        it is sent)."""
        if len(self.nodes) == 1:
            return self._act(lambda node: self.cluster.arm_revert(node, self.kind, self.duration))
        # all at once: each node's dead-man counts from its own arming, the fault's clock from the last
        with ThreadPoolExecutor(max_workers=len(self.nodes)) as pool:
            armed = list(pool.map(lambda n: self._act(lambda node: self.cluster.arm_revert(node, self.kind,
                                                                                              self.duration), n),
                                  self.nodes))
        return dict(zip(self.nodes, armed, strict=True))

    def cancel(self) -> None:
        """The run is stopping: a fault whose inject takes long (an upgrade of several nodes) stops between its
        steps. Most faults inject at once and ignore it."""
        return None

    def disarm(self) -> None:
        """The run reverts by itself: the dead-man is not needed any more."""
        for n in self.nodes:
            self.cluster.disarm_revert(n)

    @abstractmethod
    def inject(self) -> Evidence: ...

    @abstractmethod
    def revert(self) -> Evidence: ...

    def _act(self, action: Callable[[str], Evidence], node: str | None = None) -> Evidence:
        """The backend's action on a node (default: the target); its FaultError names this fault."""
        node = node or self.node
        try:
            return action(node)
        except FaultError as exc:
            raise FaultError(f"{self.kind} on {node}: {exc}") from exc
