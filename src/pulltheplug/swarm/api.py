"""What the Engine API says about a swarm, as plain fields: the one place that reads node objects."""

from __future__ import annotations

import time
from typing import Any

import docker
import requests

from pulltheplug.cluster.seam import Cluster
from pulltheplug.errors import ClusterError

# what a call to a daemon may raise when the daemon is slow, gone, or has no leader to ask
API_ERRORS = (docker.errors.DockerException, requests.exceptions.RequestException, OSError)


def node_row(n: dict[str, Any]) -> dict[str, str] | None:
    """One node as `docker node ls` shows it; manager is leader, reachable, unreachable or ''.

    None for a partial object: a node that has just joined has no hostname or status yet (seen on 20-node
    labs); to every reader that is "not ready yet", never an error.
    """
    try:
        ms = n.get("ManagerStatus") or {}
        return {
            "id": str(n["ID"]),
            "name": str(n["Description"]["Hostname"]),
            "role": str(n["Spec"]["Role"]),
            "state": str(n["Status"]["State"]),
            "availability": str(n["Spec"]["Availability"]),
            "manager": "leader" if ms.get("Leader") else str(ms.get("Reachability", "")),
            "addr": str(n["Status"].get("Addr", "")),
            "engine_version": str((n["Description"].get("Engine") or {}).get("EngineVersion", "")),
        }
    except (KeyError, TypeError, AttributeError):
        return None


def node_rows(nodes: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The complete node objects of a node list, as rows (partial ones are left out: not ready yet)."""
    return [row for row in map(node_row, nodes) if row is not None]


def leader_of(nodes: list[dict[str, Any]]) -> str | None:
    for row in node_rows(nodes):
        if row["manager"] == "leader":
            return row["name"]
    return None


def task_row(t: dict[str, Any]) -> dict[str, Any] | None:
    """One task's id, slot, node id, state and desired state; None for a partial object (not ready yet)."""
    try:
        return {"id": str(t["ID"]), "slot": t.get("Slot"), "node_id": str(t.get("NodeID", "")),
                "state": str(t["Status"]["State"]), "desired": str(t["DesiredState"])}
    except (KeyError, TypeError, AttributeError):
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


UPDATE_TRIES = 5  # a node update right after the node re-registered can be "out of sequence": read again, retry


def set_availability(cluster: Cluster, node: str, availability: str) -> None:
    """The node active, paused or drained, through a manager that answers; ClusterError when none could."""
    last: Exception | None = None
    for _ in range(UPDATE_TRIES):
        try:
            client, listed = answering_manager(cluster, timeout=10)
        except ClusterError as exc:
            last = exc
            time.sleep(1.0)
            continue
        try:
            found = [n for n in listed if (n.get("Description") or {}).get("Hostname") == node]
            if not found:
                raise ClusterError(f"the swarm does not list {node}")
            spec = dict(found[0]["Spec"], Availability=availability)
            client.api.update_node(found[0]["ID"], found[0]["Version"]["Index"], spec)
            return
        except API_ERRORS as exc:  # "update out of sequence": the node changed since it was read
            last = exc
            time.sleep(0.5)
        finally:
            client.close()
    raise ClusterError(f"cannot set {node} {availability}: {last}")
