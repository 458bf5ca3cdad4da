"""The fault interface (Jepsen's nemesis: invoke, then teardown) and the registry of kinds."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import ClassVar

from pulltheplug.cluster import Cluster, Evidence
from pulltheplug.errors import FaultError

# a dead-man armed on the node reverts a fault this long after its planned end: late enough never to cut
# the run's own revert short, soon enough to leave a node whole when the controller died
DEADMAN_MARGIN = 10.0


class Fault(ABC):
    """One fault on one node for `duration` seconds. `inject` and `revert` return the cluster's evidence."""

    kind: ClassVar[str]

    def __init__(self, cluster: Cluster, node: str, duration: float) -> None:
        self.cluster = cluster
        self.node = node
        self.duration = duration

    @property
    def deadman(self) -> float:
        """Seconds after which the node reverts the fault by itself (a safety net behind the run's own
        revert), where the backend can arm that."""
        return self.duration + DEADMAN_MARGIN

    @abstractmethod
    def inject(self) -> Evidence: ...

    @abstractmethod
    def revert(self) -> Evidence: ...

    def _act(self, action: Callable[[str], Evidence]) -> Evidence:
        """The backend's action on this node; its FaultError names this fault."""
        try:
            return action(self.node)
        except FaultError as exc:
            raise FaultError(f"{self.kind} on {self.node}: {exc}") from exc


def make_fault(kind: str, cluster: Cluster, node: str, duration: float) -> Fault:
    from pulltheplug.faults.freeze import Freeze
    from pulltheplug.faults.nic_down import NicDown
    from pulltheplug.faults.node_power import PowerLoss, Reboot

    kinds: dict[str, type[Fault]] = {k.kind: k for k in (NicDown, Reboot, PowerLoss, Freeze)}
    if kind not in kinds:
        raise FaultError(f"unknown fault {kind!r}: use one of {', '.join(kinds)}")
    return kinds[kind](cluster, node, duration)
