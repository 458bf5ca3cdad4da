"""What the Engine API says about a swarm, as plain fields: the one place that reads node objects."""

from __future__ import annotations

from typing import Any

import docker
import requests

from pulltheplug.cluster import Cluster
from pulltheplug.errors import ClusterError

# what a call to a daemon may raise when the daemon is slow, gone, or has no leader to ask
API_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException, OSError)


def node_row(n: dict[str, Any]) -> dict[str, str]:
    """One node as `docker node ls` shows it; manager is leader, reachable, unreachable or ''."""
    ms = n.get("ManagerStatus") or {}
    return {
        "id": n["ID"],
        "name": n["Description"]["Hostname"],
        "role": n["Spec"]["Role"],
        "state": n["Status"]["State"],
        "availability": n["Spec"]["Availability"],
        "manager": "leader" if ms.get("Leader") else str(ms.get("Reachability", "")),
        "addr": n["Status"].get("Addr", ""),
    }


def leader_of(nodes: list[dict[str, Any]]) -> str | None:
    for n in nodes:
        if (n.get("ManagerStatus") or {}).get("Leader"):
            return str(n["Description"]["Hostname"])
    return None


def answering_manager(cluster: Cluster, timeout: float = 10) -> tuple[docker.DockerClient, list[dict[str, Any]]]:
    """The first manager that answers the node list: its client (the caller closes it) and that list."""
    errors = []
    for n in cluster.nodes():
        if n.role != "manager":
            continue
        c = cluster.docker_client(n.name, timeout=timeout)
        try:
            return c, c.api.nodes()
        except API_ERRORS as exc:
            errors.append(f"{n.name}: {str(exc).strip()[:120]}")
            c.close()
    raise ClusterError(f"no manager of {cluster.name} answers ({'; '.join(errors)}): check `pulltheplug lab status`")
