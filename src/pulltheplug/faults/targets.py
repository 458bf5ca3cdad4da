"""Which node a fault hits: a name, or a seeded pick among all nodes, workers, managers, the leader..."""

from __future__ import annotations

import dataclasses
import random
from dataclasses import dataclass

from pulltheplug.cluster.seam import ClusterNode
from pulltheplug.errors import SpecError
from pulltheplug.naming import sorted_nodes


@dataclass(frozen=True)
class TargetPick:
    node: str
    target: str
    seed: int | None
    candidates: list[str]


def pick_target(target: str, nodes: list[ClusterNode], leader: str | None, seed: int | None,
                holder: str | None = None, avoid: str | None = None) -> TargetPick:
    """Resolve a target keyword to one node; random picks use `seed` and record it. `door`: the node the
    front door depends on (the VIP's holder); behind a door that depends on none (haproxy), or none at all
    (nodes), a seeded random node, so campaigns compare doors with one target."""
    names = [n.name for n in nodes]
    if avoid is not None:  # the door's own client runs there: faulting it would cut the client, not the service
        if target == avoid:
            raise SpecError(f"target {target}: the front door's client runs there: pick another node, or move "
                            "the client (workload.entry.service_dns.client_node)")
        nodes = [n for n in nodes if n.name != avoid]
    if target == "door":
        if holder is not None:
            return TargetPick(holder, target, None, [holder])
        return dataclasses.replace(pick_target("random", nodes, leader, seed, avoid=avoid), target=target)
    managers = [n.name for n in nodes if n.role == "manager"]
    if target == "leader":
        if leader is None:
            raise SpecError("target leader: the swarm has no leader right now; wait for it, or name a node")
        if leader == avoid:
            raise SpecError(f"target leader: the leader {leader} runs the front door's client: move the client "
                            "(workload.entry.service_dns.client_node), or name another node")
        return TargetPick(leader, target, None, [leader])
    pools = {
        "random": [n.name for n in nodes],
        "random-worker": [n.name for n in nodes if n.role == "worker"],
        "random-manager": managers,
        "follower": [m for m in managers if m != leader],
    }
    if target in pools:
        pool = pools[target]
        if not pool:
            raise SpecError(f"target {target}: the cluster has no such node (nodes: {', '.join(names)})")
        candidates = sorted_nodes(pool)
        return TargetPick(random.Random(seed).choice(candidates), target, seed, candidates)
    if target not in names:
        raise SpecError(f"target {target!r} is not a node of the cluster: use one of {', '.join(names)}")
    return TargetPick(target, target, None, [target])
