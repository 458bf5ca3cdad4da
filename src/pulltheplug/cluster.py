"""The one narrow interface every cluster backend gives (the lab now, SSH hosts later).

Faults, the observer and the workload only talk to a `Cluster`: nodes, addresses, a Docker client per
node, and node actions (eth0 down/up, graceful stop, power off, boot).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import docker


@dataclass(frozen=True)
class ClusterNode:
    name: str
    address: str
    role: str  # manager | worker


class Cluster(Protocol):
    name: str

    def describe(self) -> dict[str, object]:
        """What a report shows of the cluster: kind, engine version, ..."""
        ...

    def nodes(self) -> list[ClusterNode]: ...

    def node(self, name: str) -> ClusterNode: ...

    def docker_client(self, node: str, timeout: float = 5) -> docker.DockerClient: ...

    def set_nic(self, node: str, up: bool) -> None: ...

    def nic_is_up(self, node: str) -> bool: ...

    def stop_node(self, node: str) -> None: ...

    def power_off_node(self, node: str) -> int: ...

    def boot_node(self, node: str) -> None: ...

    def freeze_node(self, node: str, frozen: bool) -> None: ...

    def node_frozen(self, node: str) -> bool: ...

    def node_pids(self, node: str) -> list[int]: ...

    def node_running(self, node: str) -> bool: ...

    def note_fault(self, fault: dict[str, object] | None) -> None:
        """Remember (None: forget) a fault in progress, so a run killed mid-fault leaves a trace."""
        ...
