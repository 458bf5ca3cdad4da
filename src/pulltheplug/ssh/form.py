"""`cluster form|leave` on your own hosts: the seed's `swarm init`, joins and `node ls`, done over SSH.

Every host is asked first (its swarm state through the forwarded Docker socket, the address it will
advertise); the plan is made from those answers alone (`swarm_form.plan_form`), so a host in another
swarm stops the form before any host was changed. Each host advertises the address of its fault interface:
the declared `interface`, else the one SSH reached it on, which is what a nic-down takes down.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import docker

from pulltheplug.errors import ClusterError
from pulltheplug.ssh.check import parse_interfaces
from pulltheplug.ssh.inventory import Host, Inventory
from pulltheplug.ssh.session import Sessions, SshOptions
from pulltheplug.swarm import form as swarm_form
from pulltheplug.swarm.api import API_ERRORS, node_rows
from pulltheplug.waiting import wait_until

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
DEMOTE_TIMEOUT = 30.0


def _quiet(_: str) -> None:
    pass


def assign_roles(hosts: Sequence[Host], managers: int | None = None) -> dict[str, str]:
    """Declared roles kept; the others, in inventory order, are managers until there are `managers` of them
    (default: 3 from three hosts on, else 1: an odd count, so one manager may be lost), then workers."""
    want = managers if managers is not None else (3 if len(hosts) >= 3 else 1)
    if want < 1:
        raise ClusterError("--managers must be at least 1")
    count = sum(1 for h in hosts if h.role == "manager")
    roles: dict[str, str] = {}
    for h in hosts:
        if h.role is not None:
            roles[h.name] = h.role
        elif count < want:
            roles[h.name] = "manager"
            count += 1
        else:
            roles[h.name] = "worker"
    return roles


def advertise_address(host: Host, ssh_connection: str, ip_json: str) -> str:
    """The address of the declared interface, else the host's end of the SSH connection (`$SSH_CONNECTION`)."""
    interfaces = parse_interfaces(ip_json)
    if host.interface is not None:
        found = [a for a in interfaces.get(host.interface, []) if ipaddress.ip_address(a).version == 4] \
            or interfaces.get(host.interface, [])
        if not found:
            raise ClusterError(f"host {host.name}: interface {host.interface} has no address (pick one of "
                               f"{', '.join(sorted(interfaces)) or 'none listed'}, in `interface:`)")
        return found[0]
    parts = ssh_connection.split()
    if len(parts) == 4 and any(parts[2] in addrs for addrs in interfaces.values()):
        return parts[2]
    raise ClusterError(f"host {host.name}: cannot tell which address SSH reached it on: set `interface:` for it")


@dataclass(frozen=True, slots=True)
class HostView:
    host: Host
    state: swarm_form.SwarmState
    address: str


@dataclass(frozen=True, slots=True)
class Formed:
    """What `form` did to each host and the swarm's node rows at the end (every member Ready)."""

    steps: dict[str, swarm_form.Step]
    founder: str
    rows: list[dict[str, str]]


def _views(sessions: Sessions, hosts: Sequence[Host], timeout: float) -> dict[str, HostView]:
    def view(host: Host) -> HostView:
        session = sessions[host.name]
        # as the login user: sudo would drop $SSH_CONNECTION
        said = session.run('echo "$SSH_CONNECTION"; ip -j addr show', timeout, as_root=False)
        first, _, rest = said.stdout.partition("\n")
        with _client(sessions, host.name, timeout) as c:
            state = swarm_form.SwarmState.of(_ask(host, c.info))
        return HostView(host, state, advertise_address(host, first, rest))

    with ThreadPoolExecutor(max_workers=min(16, len(hosts))) as pool:
        return {v.host.name: v for v in pool.map(view, hosts)}


@contextlib.contextmanager
def _client(sessions: Sessions, name: str, timeout: float) -> Iterator[docker.DockerClient]:
    try:
        c = sessions[name].docker_client(timeout)
    except API_ERRORS as exc:
        raise _no_docker(sessions[name].host, exc) from None
    try:
        yield c
    finally:
        c.close()


def _ask(host: Host, call: Callable[[], dict[str, object]]) -> dict[str, object]:
    try:
        return call()
    except API_ERRORS as exc:
        raise _no_docker(host, exc) from None


def _no_docker(host: Host, exc: BaseException) -> ClusterError:
    return ClusterError(f"host {host.name}: docker does not answer on {host.docker_socket} "
                        f"({type(exc).__name__}): start it (`systemctl start docker`) or fix docker_socket")


def form(inventory: Inventory, options: SshOptions, managers: int | None = None, force: bool = False,
         progress: Progress = _quiet, timeout: float = 120.0) -> Formed:
    """Init on the founder, join the rest with their tokens (held in memory only), wait until all are Ready."""
    roles = assign_roles(inventory.hosts, managers)
    with Sessions(inventory, options) as sessions:
        progress("asking every host")
        views = _views(sessions, inventory.hosts, 15.0)
        members = [swarm_form.Member(h.name, views[h.name].address, roles[h.name]) for h in inventory.hosts]
        states = {n: v.state for n, v in views.items()}
        founder_guess = next((m for m in members if m.role == "manager" and states[m.name].manager), None)
        ids: frozenset[str] = frozenset()
        if founder_guess is not None:
            with _client(sessions, founder_guess.name, 15.0) as c:
                ids = frozenset(r["id"] for r in node_rows(c.api.nodes()))
        plan = swarm_form.plan_form(members, states, ids, force)
        by_name = {m.name: m for m in members}
        founder = by_name[plan.founder]
        secrets: list[str] = []
        try:
            with _client(sessions, founder.name, 30.0) as lead:
                tokens = _found(lead, founder, plan.steps[founder.name], progress)
                secrets = list(tokens.values())
                for m in members:  # managers one at a time (raft grows one by one), then workers
                    step = plan.steps[m.name]
                    if m is founder or step == "keep":
                        continue
                    progress(f"{m.name}: {step} as {m.role}")
                    if step in ("promote", "demote"):
                        swarm_form.set_role(lead, states[m.name].node_id, "manager" if step == "promote" else "worker")
                        continue
                    with _client(sessions, m.name, 30.0) as c:
                        if step == "leave-join":
                            swarm_form.leave(c, force=True)
                        swarm_form.join(c, m.address, founder.address, tokens[m.role])
                progress("waiting for every node Ready")
                rows = swarm_form.wait_converged(lead, members, timeout)
        except docker.errors.APIError as exc:
            raise ClusterError(swarm_form.scrub(f"cluster form: {exc.explanation or exc}", secrets)) from None
    return Formed(steps=plan.steps, founder=founder.name, rows=rows)


def _found(c: docker.DockerClient, founder: swarm_form.Member, step: swarm_form.Step,
           progress: Progress) -> dict[str, str]:
    if step == "keep":
        progress(f"{founder.name}: already manages the swarm")
        return swarm_form.tokens(c)
    if step == "leave-join":
        swarm_form.leave(c, force=True)
    progress(f"{founder.name}: swarm init, advertising {founder.address}")
    return swarm_form.init(c, founder.address)


def leave(inventory: Inventory, options: SshOptions, names: Sequence[str] = (),
          progress: Progress = _quiet) -> dict[str, str]:
    """Hosts leave their swarm (all of them when `names` is empty): workers first, then managers, each demoted
    by the leader first so the rest keep their quorum, the leader last. A host that leaves while others stay
    is removed from the node list. Returns what happened to each host."""
    leaving = [inventory.host(n) for n in names] if names else list(inventory.hosts)
    with Sessions(inventory, options) as sessions:
        progress("asking every host")
        views = _views(sessions, inventory.hosts, 15.0)
        states = {n: v.state for n, v in views.items()}
        staying = [h.name for h in inventory.hosts if h not in leaving and states[h.name].manager]
        asked = staying or [h.name for h in leaving if states[h.name].manager]
        leader = _leader(sessions, asked)
        members = [swarm_form.Member(h.name, views[h.name].address, "manager" if states[h.name].manager else "worker")
                   for h in leaving]
        order = swarm_form.plan_leave(members, states, leader)
        done = {h.name: "not in a swarm" for h in leaving if not states[h.name].in_swarm}
        for name in order:
            last = name == order[-1] and not staying
            progress(f"{name} leaves")
            if states[name].manager and not last:
                _demote(sessions, staying[0] if staying else leader, name, states[name].node_id)
            with _client(sessions, name, 30.0) as c:
                swarm_form.leave(c, force=True)
            if staying:
                with _client(sessions, staying[0], 30.0) as c, contextlib.suppress(docker.errors.NotFound):
                    c.nodes.get(states[name].node_id).remove(force=True)
            done[name] = "left" + (" (the swarm is gone)" if last else "")
    return done


def _leader(sessions: Sessions, managers: Sequence[str]) -> str | None:
    for name in managers:
        try:
            with _client(sessions, name, 15.0) as c:
                rows = node_rows(c.api.nodes())
        except API_ERRORS as exc:
            log.debug("%s does not answer the node list: %s", name, exc)
            continue
        return next((r["name"] for r in rows if r["manager"] == "leader"), None)
    return None


def _demote(sessions: Sessions, via: str | None, name: str, node_id: str) -> None:
    """Demote `name` through manager `via`, then wait until `name` itself no longer acts as a manager
    (without a manager to ask, the swarm has no quorum left to keep: the host just leaves)."""
    if via is None:
        return
    with _client(sessions, via, 30.0) as c:
        swarm_form.set_role(c, node_id, "worker")
    def demoted() -> bool:
        with _client(sessions, name, 15.0) as c:
            return not swarm_form.SwarmState.of(_ask(sessions[name].host, c.info)).manager

    if wait_until(demoted, DEMOTE_TIMEOUT, 0.3):
        return
    raise ClusterError(f"host {name}: still a manager {DEMOTE_TIMEOUT:.0f}s after its demotion: check `docker node ls`")
