"""Forming the swarm through the Docker SDK: init on the first manager, join the rest with tokens."""

from __future__ import annotations

import time

import docker

from pulltheplug.errors import ClusterError
from pulltheplug.lab.plan import LabPlan, NodePlan
from pulltheplug.swarm_api import node_rows


def init(c: docker.DockerClient, node: NodePlan) -> dict[str, str]:
    c.swarm.init(advertise_addr=node.address, listen_addr=f"{node.address}:2377")
    tokens = c.swarm.attrs["JoinTokens"]
    return {"manager": tokens["Manager"], "worker": tokens["Worker"]}


def join(c: docker.DockerClient, node: NodePlan, leader: NodePlan, token: str) -> None:
    c.swarm.join(
        remote_addrs=[f"{leader.address}:2377"],
        join_token=token,
        advertise_addr=node.address,
        listen_addr=f"{node.address}:2377",
    )


def live_node_rows(c: docker.DockerClient) -> list[dict[str, str]]:
    """The swarm's node list as plain fields, as a manager sees it (nodes still joining left out)."""
    return node_rows(c.api.nodes())


def wait_converged(c: docker.DockerClient, plan: LabPlan, timeout: float = 120) -> list[dict[str, str]]:
    """Until every planned node is Ready and every manager Reachable (or the leader)."""
    deadline = time.monotonic() + timeout
    rows: list[dict[str, str]] = []
    while time.monotonic() < deadline:
        try:
            rows = live_node_rows(c)
        except docker.errors.APIError:
            time.sleep(0.2)
            continue
        by_name = {r["name"]: r for r in rows if r["state"] == "ready"}
        ok = all(n.name in by_name for n in plan.nodes) and all(
            by_name[n.name]["manager"] in ("leader", "reachable") for n in plan.managers
        )
        if ok:
            return rows
        time.sleep(0.2)
    raise ClusterError(f"the swarm did not converge within {timeout:.0f}s: last seen {rows}")
