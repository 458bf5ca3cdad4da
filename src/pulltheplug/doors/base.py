"""The door seam: what the runner needs of any front door."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from aiohttp.abc import AbstractResolver

from pulltheplug.cluster.seam import Cluster, ClusterNode
from pulltheplug.doors.haproxy import HaproxyDoor, require_haproxy
from pulltheplug.doors.service_dns import ServiceDnsDoor
from pulltheplug.doors.vrrp import VipDoor, require_keepalived
from pulltheplug.spec import WorkloadSpec


class Door(Protocol):
    kind: str

    def entries(self) -> dict[str, str]:
        """The URL(s) the load goes to, by entry name (the door's own name)."""
        ...

    def describe(self) -> dict[str, object]:
        """What the report shows of the door: kind, address, timing settings, the bound they imply."""
        ...

    def holder(self) -> str | None:
        """The one node the door depends on now (a VIP's holder); None where it depends on none."""
        ...

    def avoid(self) -> str | None:
        """A node a random fault must not hit (where the door's own client runs); None: any."""
        ...

    @property
    def netns(self) -> Path | None:
        """Where the load must run from (a client container's namespace); None: the controller."""
        ...

    def resolver(self) -> AbstractResolver | None:
        """How the load resolves the door's name (Swarm's DNS); None: the usual way."""
        ...

    def backends(self) -> dict[str, dict[str, str]]:
        """The door's own view of each node now (e.g. HAProxy's UP/DOWN); raises OSError when it is silent."""
        ...

    def close(self) -> list[str]:
        """Stop it and remove its place; what was done, one line each."""
        ...


def make_door(workload: WorkloadSpec, cluster: Cluster, nodes: Sequence[ClusterNode], timeout: float,
              service: str = "") -> Door | None:
    """The spec's door, started and answering its own health view; None for `nodes` (no door)."""
    kind = workload.entry.kind
    if kind in ("nodes", "mesh"):  # straight to the nodes' ports (the mesh's own balancing is Swarm's)
        return None
    if kind == "service-dns":
        return ServiceDnsDoor(cluster, nodes, service, workload.path, workload.entry.service_dns).start()
    if kind == "vip":
        if cluster.kind == "lab":  # lab nodes run this machine's keepalived; an SSH host needs its own
            require_keepalived()
        return VipDoor(cluster, nodes, workload.port, workload.path, workload.entry.vip).start()
    require_haproxy()
    edge = cluster.open_edge()
    try:
        return HaproxyDoor(edge, list(nodes), workload.port, workload.path, workload.entry.haproxy, timeout).start()
    except BaseException:
        edge.close()
        raise
