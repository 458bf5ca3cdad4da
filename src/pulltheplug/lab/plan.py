"""What a lab is made of, decided before anything is made: names, addresses, paths, cgroups.

Pure: `down` can remove everything a plan names even when `up` died half way.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Mapping
from pathlib import Path

from pydantic import BaseModel

from pulltheplug.errors import LabError

LAB_ROOT = Path("/var/lib/pulltheplug")
CGROUP_PREFIX = "pulltheplug"
# 10.213.0.0/16 is carved into /24 lab subnets; far from Docker's own pools (172.17/16.., 10.0.x overlays).
SUBNET_POOL = ipaddress.IPv4Network("10.213.0.0/16")
NAME_RE = re.compile(r"^[a-z][a-z0-9]{0,7}$")
MAX_NODES = 50


class NodePlan(BaseModel):
    """One lab node: its namespace, link names, address, role and folders."""

    name: str
    index: int
    role: str  # "manager" | "worker"
    address: str
    netns: str
    hub_link: str  # the veth end on the lab bridge (in the hub namespace)
    dir: str
    cgroup: str  # relative cgroup path, the same in every hierarchy
    engine: str = "bookworm"  # the Debian release whose container engine the node runs (lab/engines.py)

    @property
    def socket(self) -> str:
        return f"{self.dir}/docker.sock"

    @property
    def docker_host(self) -> str:
        return f"unix://{self.socket}"

    @property
    def pidfile(self) -> str:
        return f"{self.dir}/docker.pid"

    @property
    def data_root(self) -> str:
        return f"{self.dir}/data"

    @property
    def exec_root(self) -> str:
        return f"{self.dir}/exec"

    @property
    def log(self) -> str:
        return f"{self.dir}/dockerd.log"


class LabPlan(BaseModel):
    """A whole lab: the hub namespace with the bridge, the host's link into it, and the nodes."""

    name: str
    subnet: str
    prefixlen: int
    hub_netns: str
    bridge: str
    host_link: str  # the host's own veth into the hub: lets the controller reach node addresses
    hub_peer: str
    host_address: str
    dir: str
    cgroup: str
    nodes: list[NodePlan]

    def node(self, name: str) -> NodePlan:
        for n in self.nodes:
            if n.name == name:
                return n
        names = ", ".join(n.name for n in self.nodes)
        raise LabError(f"no node {name!r} in lab {self.name!r}: pick one of {names}")

    @property
    def managers(self) -> list[NodePlan]:
        return [n for n in self.nodes if n.role == "manager"]

    @property
    def workers(self) -> list[NodePlan]:
        return [n for n in self.nodes if n.role == "worker"]


def check_name(name: str) -> None:
    if not NAME_RE.match(name):
        raise LabError(
            f"lab name {name!r} is not valid: use 1 to 8 lowercase letters or digits, starting with a letter"
        )


def check_shape(nodes: int, managers: int) -> None:
    if not 1 <= nodes <= MAX_NODES:
        raise LabError(f"--nodes {nodes} is out of range: use 1 to {MAX_NODES}")
    if not 1 <= managers <= nodes:
        raise LabError(f"--managers {managers} must be between 1 and --nodes ({nodes})")


def pick_subnet(
    used: Iterable[ipaddress.IPv4Network], pool: ipaddress.IPv4Network = SUBNET_POOL
) -> ipaddress.IPv4Network:
    """The first /24 of the pool that overlaps none of the host's routes or other labs."""
    taken = list(used)
    for candidate in pool.subnets(new_prefix=24):
        if not any(candidate.overlaps(u) for u in taken):
            return candidate
    raise LabError(f"no free /24 left in {pool}: take other labs down first")


def node_names(count: int) -> list[str]:
    return [f"node{i}" for i in range(1, count + 1)]


def plan_lab(
    name: str, nodes: int, managers: int, subnet: ipaddress.IPv4Network, root: Path = LAB_ROOT,
    engines: Mapping[str, str] | None = None,
) -> LabPlan:
    """Name every piece of the lab. Managers come first, so node1 is where the swarm starts."""
    check_name(name)
    check_shape(nodes, managers)
    if subnet.num_addresses < nodes + 3:
        raise LabError(f"subnet {subnet} is too small for {nodes} nodes")
    hosts = list(subnet.hosts())
    lab_dir = root / name
    node_plans = [
        NodePlan(
            name=node,
            index=i,
            role="manager" if i <= managers else "worker",
            address=str(hosts[i]),  # hosts[0] (.1) is the host's own address
            netns=f"ptp-{name}-{node}",
            hub_link=f"{node}",
            dir=str(lab_dir / node),
            cgroup=f"{CGROUP_PREFIX}/{name}/{node}",
            engine=(engines or {}).get(node, "bookworm"),
        )
        for i, node in enumerate(node_names(nodes), start=1)
    ]
    return LabPlan(
        name=name,
        subnet=str(subnet),
        prefixlen=subnet.prefixlen,
        hub_netns=f"ptp-{name}-hub",
        bridge="br0",
        host_link=f"ptp-{name}",
        hub_peer="uplink",
        host_address=str(hosts[0]),
        dir=str(lab_dir),
        cgroup=f"{CGROUP_PREFIX}/{name}",
        nodes=node_plans,
    )
