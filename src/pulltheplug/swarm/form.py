"""Forming and leaving a swarm through the Engine API: what the seed did by hand with `docker swarm init/join`.

Both backends use it: the lab on its own daemons, `cluster form|leave` on hosts over SSH. The plan is pure
(`plan_form`, `plan_leave`): it is made from what every daemon says before anything changes, so a host that
belongs to another swarm stops the whole form before any host was touched. Join tokens stay in memory:
never logged, never in an error (`scrub`).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import docker

from pulltheplug.errors import ClusterError
from pulltheplug.swarm.api import API_ERRORS, node_rows
from pulltheplug.waiting import wait_until

log = logging.getLogger(__name__)

SWARM_PORT = 2377
Role = Literal["manager", "worker"]


@dataclass(frozen=True, slots=True)
class Member:
    """A host as the swarm will have it: its name, the address it advertises, its role."""

    name: str
    address: str
    role: str  # manager | worker


@dataclass(frozen=True, slots=True)
class SwarmState:
    """What one daemon says of its swarm (`docker info`'s Swarm part)."""

    state: str  # inactive | pending | active | error | locked
    node_id: str = ""
    manager: bool = False  # a manager that can answer (ControlAvailable)
    cluster_id: str = ""  # managers only

    @classmethod
    def of(cls, info: dict[str, Any]) -> SwarmState:
        swarm = info.get("Swarm") or {}
        return cls(state=str(swarm.get("LocalNodeState") or "inactive"), node_id=str(swarm.get("NodeID") or ""),
                   manager=bool(swarm.get("ControlAvailable")),
                   cluster_id=str((swarm.get("Cluster") or {}).get("ID") or ""))

    @property
    def in_swarm(self) -> bool:
        return self.state != "inactive"


Step = Literal["init", "keep", "join", "leave-join", "promote", "demote"]


@dataclass(frozen=True, slots=True)
class FormPlan:
    """`founder` inits (or already leads) the swarm; `steps` says what happens to each host, in order."""

    founder: str
    steps: dict[str, Step] = field(default_factory=dict)

    def changes(self) -> bool:
        return any(s != "keep" for s in self.steps.values())


def plan_form(members: Sequence[Member], states: dict[str, SwarmState], swarm_ids: frozenset[str],
              force: bool = False) -> FormPlan:
    """Who founds the swarm and what each host must do; raises when a host is in another swarm (unless `force`).

    `swarm_ids`: the node IDs of the swarm the founder already manages (empty when it is in none). The
    founder is the first manager that already manages a swarm (a cluster grows, it is not re-made), else
    the first manager listed.
    """
    managers = [m for m in members if m.role == "manager"]
    if not managers:
        raise ClusterError("no manager among the hosts: give at least one host `role: manager`")
    founder = next((m for m in managers if states[m.name].manager), managers[0])
    steps: dict[str, Step] = {}
    foreign = []
    for m in members:
        s = states[m.name]
        if m is founder:
            if s.in_swarm and not s.manager:
                foreign.append((m, s))
                steps[m.name] = "leave-join"  # leaves, then inits
            else:
                steps[m.name] = "keep" if s.manager else "init"
        elif not s.in_swarm:
            steps[m.name] = "join"
        elif s.node_id and s.node_id in swarm_ids and s.state == "active":
            steps[m.name] = "keep" if s.manager == (m.role == "manager") else (
                "promote" if m.role == "manager" else "demote")
        else:
            foreign.append((m, s))
            steps[m.name] = "leave-join"
    if foreign and not force:
        m, s = foreign[0]
        raise ClusterError(f"host {m.name} is already in another swarm (state {s.state}, node {s.node_id[:12] or '?'})"
                           f": make it leave (`pulltheplug cluster leave` or `docker swarm leave --force` there), "
                           "or pass --force to make it leave")
    return FormPlan(founder=founder.name, steps=steps)


def plan_leave(members: Sequence[Member], states: dict[str, SwarmState], leader: str | None) -> list[str]:
    """The order hosts leave in: workers, then managers, the leader last (the swarm keeps its quorum longest)."""
    in_swarm = [m for m in members if states[m.name].in_swarm]
    workers = [m.name for m in in_swarm if not states[m.name].manager]
    managers = [m.name for m in in_swarm if states[m.name].manager and m.name != leader]
    return workers + managers + ([leader] if leader in {m.name for m in in_swarm} else [])


def scrub(text: str, secrets: Sequence[str]) -> str:
    """A message with every join token replaced: errors reach logs and terminals."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<token>")
    return text


def init(c: docker.DockerClient, address: str) -> dict[str, str]:
    """`swarm init` advertising (and listening on) `address`; the join tokens, to keep in memory only."""
    c.swarm.init(advertise_addr=address, listen_addr=f"{address}:{SWARM_PORT}")
    return tokens(c)


def tokens(c: docker.DockerClient) -> dict[str, str]:
    c.swarm.reload()
    found = c.swarm.attrs["JoinTokens"]
    return {"manager": found["Manager"], "worker": found["Worker"]}


def join(c: docker.DockerClient, address: str, remote: str, token: str) -> None:
    """Join the swarm a manager at `remote` runs; joiners advertise their own address (else the join hangs)."""
    try:
        c.swarm.join(remote_addrs=[f"{remote}:{SWARM_PORT}"], join_token=token, advertise_addr=address,
                     listen_addr=f"{address}:{SWARM_PORT}")
    except docker.errors.APIError as exc:
        raise ClusterError(scrub(f"joining {remote}: {exc.explanation or exc}", [token])) from None


def set_role(c: docker.DockerClient, node_id: str, role: Role) -> None:
    """Promote or demote a node, asked of a manager."""
    node = c.nodes.get(node_id)
    spec = dict(node.attrs["Spec"])
    spec["Role"] = role
    node.update(spec)


def leave(c: docker.DockerClient, force: bool) -> None:
    c.swarm.leave(force=force)


def wait_converged(c: docker.DockerClient, members: Sequence[Member], timeout: float = 120) -> list[dict[str, str]]:
    """Until every member is Ready in its role and every manager Reachable (or the leader); the node rows."""
    rows: list[dict[str, str]] = []

    def done() -> bool:
        nonlocal rows
        try:
            rows = node_rows(c.api.nodes())
        except API_ERRORS as exc:
            log.debug("node list not answered yet: %s", exc)
            return False
        return converged(rows, members)

    if wait_until(done, timeout, 0.2):
        return rows
    raise ClusterError(f"the swarm did not converge within {timeout:.0f}s: last seen "
                       f"{[(r['name'], r['state'], r['role'], r['manager']) for r in rows]}")


def converged(rows: Sequence[dict[str, str]], members: Sequence[Member]) -> bool:
    """Every member has a Ready node in its role (a host that re-joined leaves a Down row behind: ignored)."""
    ready = {(r["name"], r["role"]): r for r in rows if r["state"] == "ready"}
    for m in members:
        row = ready.get((m.name, m.role))
        if row is None or (m.role == "manager" and row["manager"] not in ("leader", "reachable")):
            return False
    return True
