"""The one narrow interface every cluster backend gives: the lab (namespaces and local dockerds) and SSH hosts.

Like an httpx transport, it is the cut between the tool and the outside world. Faults, the observer, the
workload, the runner and campaigns only talk to a `Cluster`: its nodes, a Docker client per node, node
actions, and whether it is whole. Each node action returns evidence that it took effect, in terms the
backend could observe (an eth0 flag in the lab, an unreachable host over SSH), and raises `FaultError`
when it did not: the fault modules then stay the same whatever the backend.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import docker

from pulltheplug.errors import ClusterError

if TYPE_CHECKING:
    from pulltheplug.cluster.traffic import TrafficRules

Evidence = dict[str, Any]  # what was checked after an action, as it goes into the fault's events
Listener = Callable[[str, dict[str, Any]], None]  # (event type, data): what the backend saw by itself

# a dead-man armed on the node reverts a fault this long after its planned end: late enough never to cut
# the run's own revert short, soon enough to leave a node whole when the controller died
DEADMAN_MARGIN = 10.0


@dataclass(frozen=True)
class ClusterNode:
    name: str
    address: str
    role: str  # manager | worker


@dataclass(frozen=True)
class NodeStatus:
    """One row of `docker node ls`, plus whether the node's engine is running (as the backend sees it)."""

    name: str
    role: str
    address: str
    state: str  # ready | down | unknown | disconnected
    availability: str
    manager: str  # leader | reachable | unreachable | ""
    daemon: bool
    engine_version: str = ""  # the engine's version, as the swarm's node list says (its last report)

    @property
    def leader(self) -> bool:
        return self.manager == "leader"


def all_whole(rows: list[NodeStatus]) -> bool:
    """Every engine running, every node Ready, every manager reachable (or the leader)."""
    return not gaps(rows)


def gaps(rows: list[NodeStatus]) -> list[str]:
    """What keeps the cluster from whole, a phrase per node ("node3 down", "node2 unreachable")."""
    found = []
    for r in rows:
        if not r.daemon:
            found.append(f"{r.name}: engine not running")
        elif r.state != "ready":
            found.append(f"{r.name} {r.state}")
        elif r.role == "manager" and r.manager not in ("leader", "reachable"):
            found.append(f"{r.name} {r.manager or 'not a reachable manager'}")
    return found


class Edge(Protocol):
    """Where a front door runs (HAProxy): a place on the clients' network, in front of the nodes.

    The lab's is a network namespace of its own on the lab bridge; processes started there are the lab's
    (its cgroup), so `lab down` ends them even after a killed run.
    """

    address: str  # where clients reach what runs there
    folder: Path  # the controller's folder for its configs, sockets and logs

    def start(self, name: str, argv: Sequence[str]) -> int:
        """Start a long-running process there; its pid. Its output goes to `folder/NAME.log`."""
        ...

    def running(self, name: str) -> bool: ...

    def stop(self, name: str) -> None:
        """End the process (SIGTERM, then SIGKILL) and wait until it is gone."""
        ...

    def close(self) -> list[str]:
        """Stop what runs there and remove the place; what was removed, one line each."""
        ...


class NodeSilent(ClusterError):
    """The node did not answer a read of its files (a host without power, a cut link)."""


class NodeFiles(Protocol):
    """A folder of a node's own for what a node service reads and writes (its config, its state file), at
    `folder` as the node sees it: on the controller's disk for a lab node, on the host for an SSH host."""

    folder: str

    def write(self, name: str, text: str, mode: int = 0o600) -> None: ...

    def read(self, name: str) -> str | None:
        """The file's text; None when it is missing; NodeSilent when the node does not answer."""
        ...

    def remove(self) -> None:
        """The folder and everything in it; nothing when the node does not answer."""
        ...


class Cluster(Protocol):
    name: str
    kind: str  # lab | ssh
    fault_kinds: frozenset[str]  # the faults this backend can inject

    def describe(self) -> dict[str, object]:
        """What a report shows of the cluster: kind, engine version, nodes..."""
        ...

    def nodes(self) -> list[ClusterNode]: ...

    def node(self, name: str) -> ClusterNode: ...

    def docker_client(self, node: str, timeout: float = 5) -> docker.DockerClient: ...

    # --- node actions: evidence that each took effect, or FaultError ------------------------------------
    def arm_revert(self, node: str, kind: str, duration: float) -> Evidence:
        """Before the fault's clock starts: arm, outside the controller, what reverts fault `kind` on the node
        should the controller die (at the fault's end where that is the revert, else DEADMAN_MARGIN later);
        the evidence that it is armed, {} where the fault needs none. FaultError: not armed, do not inject."""
        ...

    def disarm_revert(self, node: str) -> None:
        """The run reverts by itself: cancel what `arm_revert` armed on the node, if the backend must."""
        ...

    def nic_down(self, node: str, seconds: float) -> Evidence:
        """The node's fault interface down for `seconds`. Where the controller reaches the node only through
        that interface (SSH), a dead-man armed on the node first brings it back: that is the revert."""
        ...

    def nic_up(self, node: str) -> Evidence:
        """The interface up (or, where a dead-man does it, seen back up)."""
        ...

    def shut_down(self, node: str) -> Evidence:
        """A graceful stop of the node (its engine stops its containers)."""
        ...

    def power_off(self, node: str) -> Evidence:
        """Every process of the node gone at once, no clean-up."""
        ...

    def boot(self, node: str) -> Evidence:
        """Start the node again after shut_down or power_off; returns once its engine answers."""
        ...

    def freeze(self, node: str, seconds: float) -> Evidence:
        """Every process of the node stopped (a hung node); thawed by itself after `seconds` where it can."""
        ...

    def thaw(self, node: str) -> Evidence: ...

    def filter_traffic(self, node: str, rules: TrafficRules) -> Evidence:
        """The node drops what `rules` say (a partition's side, random loss), in a firewall table of our own."""
        ...

    def clear_traffic(self, node: str) -> Evidence:
        """Our firewall table gone from the node (idempotent); the node's other rules untouched."""
        ...

    def flap(self, node: str, period: float, down: float, seconds: float) -> Evidence:
        """The node's fault interface down for `down` in every `period`, for `seconds`, driven on the node's
        side (it ends with the link up by itself)."""
        ...

    def unflap(self, node: str) -> Evidence:
        """The flapping stopped and the link up; how many times it went down."""
        ...

    def crash_engine(self, node: str) -> Evidence:
        """SIGKILL of the container engine only (dockerd, containerd); its containers' fate is the engine's."""
        ...

    def start_engine(self, node: str) -> Evidence:
        """The engine started again after a crash; returns once it answers."""
        ...

    def ready_engine(self, release: str) -> Evidence:
        """That Debian release's engine ready to be swapped in (fetched once where it is not yet)."""
        ...

    def swap_engine(self, node: str, release: str) -> Evidence:
        """The stopped node's engine, from its next boot on, is that Debian release's (an upgrade's swap)."""
        ...

    # --- the whole cluster -------------------------------------------------------------------------------
    def status(self) -> list[NodeStatus]:
        """Each node as the live swarm sees it, plus whether its engine runs."""
        ...

    def is_whole(self) -> bool:
        """Every engine running, every node Ready, every manager reachable: ready for the next run."""
        ...

    def heal(self) -> list[str]:
        """Undo what a fault left (a run killed mid-fault); returns what was done, one line each."""
        ...

    def rebuild(self, engine: str | None = None) -> None:
        """Make the cluster whole from scratch (the lab: down and up again, every node on `engine`'s release
        when given); raises where it cannot."""
        ...

    def note_fault(self, fault: dict[str, object] | None) -> None:
        """Remember (None: forget) a fault in progress, so a run killed mid-fault leaves a trace."""
        ...

    def guard_settings(self, before: dict[str, float | int | None] | None, seconds: float) -> Evidence:
        """A run is about to change the swarm's settings: remember `before` (setting -> value, as
        `swarm_settings` names them) so `heal` puts it back, and arm, outside the controller, what does so
        `seconds` (plus DEADMAN_MARGIN) on should the controller die; the evidence, {} where nothing is armed.
        None: the run put them back itself, forget them. FaultError: not armed, change nothing."""
        ...

    def node_service(self, node: str, name: str, argv: Sequence[str] | None) -> None:
        """Run `argv` on the node as a system service (None: stop it and forget it): it dies with the node's
        power, hangs with a freeze, stops first on a graceful shutdown and starts again at boot.
        Raises SpecError where the backend cannot."""
        ...

    def node_files(self, node: str, purpose: str) -> NodeFiles:
        """The node's folder for `purpose` (a door's name): see NodeFiles."""
        ...

    def container_netns(self, node: str, container_id: str) -> Path:
        """The network namespace of a container of the node, for the controller to enter; SpecError where
        the controller cannot (another machine's container)."""
        ...

    def routing_mesh(self) -> str | None:
        """None where Swarm's routing mesh (ingress, IP_VS) works; else why not, in one line."""
        ...

    def open_edge(self) -> Edge:
        """A place for a front door; raises SpecError where the backend has none yet."""
        ...

    def watch(self, listener: Listener | None) -> None:
        """Tell `listener` what the backend notices by itself during a run, e.g. an SSH session lost or back
        (type "session"); None stops telling. It may be called from any thread."""
        ...
