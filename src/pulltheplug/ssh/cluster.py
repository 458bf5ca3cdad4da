"""Hosts reached over SSH as a `Cluster`: the same runs, faults, records and reports as the lab.

Opening checks every host for the planned fault first (`cluster check`): a host that cannot take it
stops the run before anything is injected. Every fault that cuts the controller off the host (nic-down)
or could outlive it (freeze) is reverted by a dead-man armed on the host first; the controller's own
revert then only confirms, or heals early where it still reaches the host.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import docker

from pulltheplug.cluster.seam import DEADMAN_MARGIN, ClusterNode, Edge, Evidence, Listener, NodeStatus, all_whole
from pulltheplug.cluster.traffic import TABLE, TrafficRules, ruleset
from pulltheplug.errors import ClusterError, FaultError, PulltheplugError, SpecError
from pulltheplug.spec import ClusterSpec
from pulltheplug.ssh import deadman, node_actions, node_files
from pulltheplug.ssh.check import BOOT_ID, HostReport, check_cluster, controller_boot_id, evaluate, timer_of
from pulltheplug.ssh.choices import DEFAULT_KNOWN_HOSTS
from pulltheplug.ssh.edge import ControllerEdge
from pulltheplug.ssh.inventory import FaultAction, Host, QemuPower, load_inventory
from pulltheplug.ssh.power import run_power
from pulltheplug.ssh.qmp import ResumeDeadman, qmp, run_state
from pulltheplug.ssh.session import HostSession, Sessions, SshOptions
from pulltheplug.swarm import settings as swarm_settings
from pulltheplug.swarm.api import API_ERRORS, answering_manager, node_rows
from pulltheplug.waiting import wait_until

log = logging.getLogger(__name__)

BACK_TIMEOUT = 300.0  # seconds a host may take to answer SSH and Docker again after a fault (a boot under TCG: 60-120)
FAULTS_DIR = Path("~/.config/pulltheplug/faults")


def restarted(node: str, before: str, after: str, took: float) -> Evidence:
    """Evidence that a reboot or crash took effect: the host came back with another boot_id (a reboot that
    did not happen would make every figure of the run wrong)."""
    if not after or after == before:
        raise FaultError(f"{node}: answered again with the same boot_id: it never restarted "
                         "(check the reboot command and its logs)")
    return {"boot_id_changed": True, "back_after": round(took, 3)}


def engine_answers(session: HostSession, timeout: float = 3.0) -> bool:
    """Whether the host's Docker engine answers a ping through the forwarded socket (the client closed after)."""
    try:
        client = session.docker_client(timeout)
    except (PulltheplugError, OSError, *API_ERRORS) as exc:
        log.debug("%s: not answering yet: %s: %s", session.name, type(exc).__name__, exc)
        return False
    try:
        return bool(client.ping())
    except (PulltheplugError, OSError, *API_ERRORS) as exc:
        log.debug("%s: engine not answering yet: %s: %s", session.name, type(exc).__name__, exc)
        return False
    finally:
        client.close()


class SshCluster:
    kind = "ssh"
    fault_kinds = frozenset({"nic-down", "reboot", "power-loss", "freeze", "task-kill", "partition", "loss", "flap",
                             "engine-crash", "quorum-loss"})

    def __init__(self, spec: ClusterSpec, faults: Sequence[str], targets: Sequence[str] = ()) -> None:
        """`targets`: the hosts the faults may hit (named in the spec); empty: any host (leader, random...).
        Every host must answer and run Docker; only the targets must be able to take the faults."""
        assert spec.hosts is not None  # the spec's own validator says so
        self.inventory = load_inventory(spec.hosts)
        self.source = spec.hosts
        self.name = spec.hosts.stem
        self.options = SshOptions(known_hosts=spec.known_hosts or DEFAULT_KNOWN_HOSTS)
        self.controller_boot_id = controller_boot_id()
        exposed = set(targets) if targets and set(targets) <= set(self.inventory.names) else set(self.inventory.names)
        if "partition" in faults or "quorum-loss" in faults:  # every side of a partition takes its rules; the
            exposed = set(self.inventory.names)  # managers a quorum loss takes with its target are drawn at run time
        reports = [r if r.host in exposed else
                   evaluate(self.inventory.host(r.host), r.facts, self.controller_boot_id, ())
                   for r in check_cluster(self.inventory, faults, self.options)]
        failing = [(r.host, c) for r in reports for c in r.checks if c.required and not c.ok]
        if failing:
            host, check = failing[0]
            raise ClusterError(f"host {host} cannot run {', '.join(faults) or 'the run'}: {check.name}: "
                               f"{check.detail}{f' ({check.advice})' if check.advice else ''}; "
                               f"see `pulltheplug cluster check {spec.hosts}`")
        self.reports: dict[str, HostReport] = {r.host: r for r in reports}
        self.sessions = Sessions(self.inventory, self.options)
        self._restarting: dict[str, str] = {}  # host -> its boot_id before a reboot or crash
        self._armed: dict[str, str] = {}  # host -> the fault whose dead-man is armed, until it is injected
        self._cut: set[str] = set()  # hosts whose power driver this run switched off, until switched on again
        self._resume: dict[str, ResumeDeadman] = {}  # host -> the controller-side dead-man resuming its machine

    # --- inventory ------------------------------------------------------------------------------------
    def describe(self) -> dict[str, object]:
        versions = {r.facts.docker_version for r in self.reports.values()}
        return {"name": self.name, "kind": "ssh", "inventory": str(self.source),
                "engine_version": ", ".join(sorted(versions)),
                "nodes": [{"name": n.name, "address": n.address, "role": n.role} for n in self.nodes()]}

    def nodes(self) -> list[ClusterNode]:
        return [self._node(h) for h in self.inventory.hosts]

    def node(self, name: str) -> ClusterNode:
        return self._node(self.inventory.host(name))

    def _node(self, host: Host) -> ClusterNode:
        role = host.role or self.reports[host.name].facts.swarm_role or "worker"
        return ClusterNode(host.name, host.address, role)

    def docker_client(self, node: str, timeout: float = 5) -> docker.DockerClient:
        return self.sessions[node].docker_client(timeout)

    # --- node actions --------------------------------------------------------------------------------
    def _iface(self, node: str) -> str:
        iface = self.reports[node].interface
        if iface is None:
            raise FaultError(f"{node}: no fault interface found (set `interface` in {self.source})")
        return iface

    def _timer(self, node: str) -> deadman.Timer:
        timer = timer_of(self.reports[node].facts)
        if timer is None:
            raise FaultError(f"{node}: no way to arm a dead-man (setsid or systemd-run)")
        return timer

    def arm_revert(self, node: str, kind: str, duration: float) -> Evidence:
        """nic-down: the link-up armed for the end of the fault (it IS the revert when the link carries SSH);
        freeze, partition, loss, flap: the thaw, the table's removal, the link up, a margin later. Machine faults
        have nothing to arm (a boot is the revert)."""
        session, timer = self.sessions[node], self._timer(node)
        if kind == "nic-down":
            command = deadman.action_command(session.host, "nic-up", self._iface(node), duration)
            seen = node_actions.arm(session, "nic-up", command, duration, timer, from_cut=True)
            self._armed[node] = kind
            return {"deadman": "nic-up", "after": duration, "took": round(seen.took, 3)}
        action: FaultAction
        if kind == "freeze" and isinstance(session.host.power, QemuPower):  # the whole machine pauses
            after = duration + DEADMAN_MARGIN
            old = self._resume.pop(node, None)
            if old is not None:  # a dead-man left from an earlier freeze must not resume this one early
                old.disarm()
            self._resume[node] = ResumeDeadman(session.host.power.qmp, after)
            self._armed[node] = kind
            return {"deadman": "resume", "after": after, "on": "controller"}
        if kind == "freeze":
            action, command = "thaw", deadman.action_command(session.host, "thaw")
        elif kind in ("partition", "loss"):
            action, command = "unfilter", deadman.action_command(session.host, "unfilter")
        elif kind == "flap":
            action, command = "nic-up", deadman.action_command(session.host, "nic-up", self._iface(node))
        elif kind == "engine-crash":
            action, command = "engine-start", deadman.action_command(session.host, "engine-start")
        else:
            return {}
        after = duration + DEADMAN_MARGIN
        seen = node_actions.arm(session, action, command, after, timer)
        self._armed[node] = kind
        return {"deadman": action, "after": after, "took": round(seen.took, 3)}

    def filter_traffic(self, node: str, rules: TrafficRules) -> Evidence:
        """Our nftables table on the host. A peer is dropped by its SSH address and by the address it
        advertises to the swarm, where the two differ (a management network beside the swarm's)."""
        self._require_armed(node, "partition", "loss")
        swarm = {h.address: self.reports[h.name].facts.swarm_address for h in self.inventory.hosts}

        def both(addresses: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(dict.fromkeys(a2 for a in addresses for a2 in (a, swarm.get(a) or a)))

        rules = dataclasses.replace(rules, drop_from=both(rules.drop_from), drop_to=both(rules.drop_to),
                                    iface=self._iface(node) if rules.loss_percent > 0 else rules.iface)
        result = self.sessions[node].run(deadman.filter_command(ruleset(rules)), 15)
        drops = int(result.stdout.strip() or 0) if result.stdout.strip().isdigit() else 0
        if result.exit != 0 or drops == 0:
            raise FaultError(f"{node}: the filter table did not load: {result.stderr.strip()[:160]} "
                             "(the dead-man removes whatever was loaded)")
        return {"table": f"inet {TABLE}", "drop_rules": drops}

    def clear_traffic(self, node: str) -> Evidence:
        session, timer = self.sessions[node], self._timer(node)
        command = (f"{deadman.action_command(session.host, 'unfilter')}; {deadman.disarm('unfilter', node, timer)}; "
                   f"nft list table inet {TABLE} >/dev/null 2>&1 && echo left || echo gone")
        result = session.run(command, 15)
        if result.stdout.strip() != "gone":
            raise FaultError(f"{node}: the filter table is still there (the dead-man stays armed)")
        return {"table_left": False}

    def flap(self, node: str, period: float, down: float, seconds: float) -> Evidence:
        self._require_armed(node, "flap")
        session = self.sessions[node]
        command = deadman.flap(session.host, self._iface(node), period, down, seconds)
        seen = node_actions.inject(session, "flap", command)  # its first cut may take the session with it
        return {"flapping": True, "period": period, "down": down, "session_lost": seen.session_lost}

    def unflap(self, node: str) -> Evidence:
        """The loop ends by itself with the link up; wait until the host answers, then make sure."""
        session, iface = self.sessions[node], self._iface(node)
        if not self._wait(lambda: self._answers(lambda: node_actions.link_is_up(session, iface)), BACK_TIMEOUT):
            raise FaultError(f"{node}: not reachable {BACK_TIMEOUT:.0f}s after the flapping was due to end")
        disarm = deadman.disarm("nic-up", node, self._timer(node))
        result = session.run(f"{deadman.unflap(session.host, iface)}; {disarm}", 15)
        downs = result.stdout.strip().splitlines()
        return {"eth0_up": node_actions.link_is_up(session, iface),
                "downs": int(downs[0]) if downs and downs[0].isdigit() else None}

    def crash_engine(self, node: str) -> Evidence:
        """dockerd and containerd SIGKILLed, their units stopped so systemd does not start them again before the
        revert (systemd's units: see deadman.DEFAULTS; a host's `faults: {engine-kill, engine-start}` overrides)."""
        self._require_armed(node, "engine-crash")
        session = self.sessions[node]
        seen = node_actions.inject(session, "engine-kill", deadman.action_command(session.host, "engine-kill"))
        if seen.exit != 0:
            raise FaultError(f"{node}: the engine was not killed (exit {seen.exit}): the dead-man starts it again")
        return {**dataclasses.asdict(seen), "engine_answering": self._engine_answers(node)}

    def start_engine(self, node: str) -> Evidence:
        """The units started again (and the dead-man disarmed), then wait until the engine answers."""
        session, timer = self.sessions[node], self._timer(node)
        command = (f"{deadman.action_command(session.host, 'engine-start')} && "
                   f"{deadman.disarm('engine-start', node, timer)}")
        seen = node_actions.revert(session, "engine-start", command, 60)
        if not self._wait(lambda: self._engine_answers(node), BACK_TIMEOUT):
            raise FaultError(f"{node}: its engine did not answer within {BACK_TIMEOUT:.0f}s of its start")
        return {**dataclasses.asdict(seen), "engine_answering": True}

    def ready_engine(self, release: str) -> Evidence:
        raise FaultError("engine-upgrade runs on a lab: a host's engine is upgraded by its package manager")

    def swap_engine(self, node: str, release: str) -> Evidence:
        """Not over SSH: a host's engine is its package manager's (an upgrade runs on a lab)."""
        raise FaultError(f"{node}: engine-upgrade runs on a lab: a host's engine is upgraded by its package manager")

    def disarm_revert(self, node: str) -> None:
        """Nothing: the controller's own nic-up and thaw cancel the dead-man once they took effect."""

    def _require_armed(self, node: str, *kinds: str) -> None:
        if self._armed.pop(node, None) not in kinds:
            raise FaultError(f"{node}: {kinds[0]} refused: its dead-man revert was not armed first")

    def nic_down(self, node: str, seconds: float) -> Evidence:
        self._require_armed(node, "nic-down")
        session = self.sessions[node]
        command = deadman.cut(session.host, self._iface(node), seconds)  # the dead-man's clock starts here
        return dataclasses.asdict(node_actions.inject(session, "nic-down", command))

    def nic_up(self, node: str) -> Evidence:
        """Wait for the dead-man (the link carried SSH), then the controller's own revert, idempotent."""
        started = time.monotonic()
        session, iface = self.sessions[node], self._iface(node)
        if not self._wait(lambda: self._answers(lambda: node_actions.link_is_up(session, iface)), BACK_TIMEOUT):
            raise FaultError(f"{node}: not reachable {BACK_TIMEOUT:.0f}s after the revert was due")
        seen = node_actions.nic_up(session, iface, self._timer(node))
        return {**dataclasses.asdict(seen), "link_up": True, "back_after": round(time.monotonic() - started, 3)}

    def freeze(self, node: str, seconds: float) -> Evidence:
        """A cgroup freeze of the host's engine; on a QEMU machine (a `qemu` power driver), the whole machine
        paused through its monitor: kernel, sshd and engine hang alike, as a hung host does."""
        self._require_armed(node, "freeze")
        session = self.sessions[node]
        if isinstance(session.host.power, QemuPower):
            qmp(session.host.power.qmp, "stop")
            return {"machine": run_state(session.host.power.qmp)}
        command = deadman.action_command(session.host, "freeze", seconds=seconds)
        return dataclasses.asdict(node_actions.inject(session, "freeze", command))

    def thaw(self, node: str) -> Evidence:
        host = self.inventory.host(node)
        if isinstance(host.power, QemuPower):
            qmp(host.power.qmp, "cont")
            armed = self._resume.pop(node, None)
            if armed is not None:
                armed.disarm()
            return {"machine": run_state(host.power.qmp)}
        return dataclasses.asdict(node_actions.thaw(self.sessions[node], self._timer(node)))

    def shut_down(self, node: str) -> Evidence:
        host = self.inventory.host(node)
        command = deadman.reboot(host, self.reports[node].facts.boot_id, self.controller_boot_id)
        return self._machine(node, "reboot", command)

    def power_off(self, node: str) -> Evidence:
        host = self.inventory.host(node)
        if host.power is None:  # a sysrq reset: no sync, no clean-up
            command = deadman.crash(host, self.reports[node].facts.boot_id, self.controller_boot_id)
            return self._machine(node, "crash", command)
        answer = run_power(host, "off")
        self._cut.add(node)
        down = self._wait(lambda: not self._engine_answers(node), BACK_TIMEOUT)
        return {"driver": host.power.kind, "answer": answer[:160], "engine_answering": not down}

    def _machine(self, node: str, action: str, command: str) -> Evidence:
        self._restarting[node] = self.reports[node].facts.boot_id
        seen = node_actions.machine_fault(self.sessions[node], action, command)
        return dataclasses.asdict(seen)

    def boot(self, node: str) -> Evidence:
        """Power on where a driver cut it; then wait for SSH and Docker. After a reboot or crash the host must
        answer with a new boot_id: the same one means it never went down."""
        host = self.inventory.host(node)
        started = time.monotonic()
        # power on at once where this run cut it: asking the engine of a host without power first would cost
        # an SSH connect timeout (10 s) before the power came back, lengthening the fault by as much
        if host.power is not None and (node in self._cut or not self._engine_answers(node)):
            run_power(host, "on")
            self._cut.discard(node)
        back = self._wait(lambda: self._engine_answers(node), BACK_TIMEOUT)
        if not back:
            raise FaultError(f"{node}: its engine did not answer within {BACK_TIMEOUT:.0f}s of the boot")
        evidence: Evidence = {"engine_answering": True}
        before = self._restarting.pop(node, None)
        if before is not None:
            now = self.sessions[node].run(f"cat {BOOT_ID}", 10, as_root=False).stdout.strip()
            evidence |= restarted(node, before, now, time.monotonic() - started)
        return evidence

    def _engine_answers(self, node: str) -> bool:
        return engine_answers(self.sessions[node])

    @staticmethod
    def _answers(ask: Callable[[], object]) -> bool:
        try:
            return bool(ask())
        except (PulltheplugError, *API_ERRORS) as exc:
            log.debug("not answering yet: %s: %s", type(exc).__name__, exc)
            return False

    @staticmethod
    def _wait(done: Callable[[], bool], timeout: float) -> bool:
        return bool(wait_until(done, timeout, 0.5))

    # --- the whole cluster ------------------------------------------------------------------------------
    def status(self) -> list[NodeStatus]:
        alive = {h.name: self._engine_answers(h.name) for h in self.inventory.hosts}
        rows: dict[str, dict[str, str]] = {}
        try:
            client, nodes = answering_manager(self, timeout=5)
            client.close()
            rows = {r["name"]: r for r in node_rows(nodes)}
        except ClusterError as exc:
            log.debug("no manager answers: %s", exc)
        out = []
        for n in self.nodes():
            r = rows.get(n.name, {})
            out.append(NodeStatus(name=n.name, role=r.get("role", n.role), address=n.address,
                                  state=r.get("state", "unknown"), availability=r.get("availability", ""),
                                  manager=r.get("manager", ""), daemon=alive[n.name],
                                  engine_version=r.get("engine_version", "")))
        return out

    def is_whole(self) -> bool:
        return all_whole(self.status())

    def heal(self) -> list[str]:
        """What the controller heals: a host without an engine switched on by its power driver (a cut link
        and a frozen engine heal by their own dead-man)."""
        done = []
        for host in self.inventory.hosts:
            if isinstance(host.power, QemuPower) and run_state(host.power.qmp) == "paused":
                qmp(host.power.qmp, "cont")  # a freeze whose controller died before its resume dead-man fired
                done.append(f"{host.name}: resumed")
            if self._engine_answers(host.name):
                continue
            if host.power is not None:
                run_power(host, "on")
                done.append(f"{host.name}: power on")
        settings = self.noted_settings()
        if settings is not None:  # a killed run's swarm settings (no dead-man on the hosts for these yet)
            swarm_settings.put_back(self, settings, swarm_settings.RESTORE_TIMEOUT)
            self._settings_file.unlink(missing_ok=True)
            done.append("swarm settings put back: " + ", ".join(f"{k} {v}" for k, v in settings.items()))
        return done

    def rebuild(self, engine: str | None = None) -> None:
        raise ClusterError(f"an SSH cluster cannot be rebuilt by pulltheplug: heal its hosts, then "
                           f"`pulltheplug cluster check {self.source}`")

    def node_service(self, node: str, name: str, argv: Sequence[str] | None) -> None:
        """A transient systemd unit on the host (`entry: vip`'s keepalived): see ssh/node_files.py."""
        node_files.service(self.sessions[node], name, argv)

    def node_files(self, node: str, purpose: str) -> node_files.SshFiles:
        return node_files.SshFiles(self.sessions[node], purpose)

    def container_netns(self, node: str, container_id: str) -> Path:
        raise SpecError(f"{self.source}: entry service-dns needs the load inside a container of your hosts, "
                        "which the controller cannot enter: use entry haproxy or nodes")

    def routing_mesh(self) -> str | None:
        return None  # Docker on a real host loads IP_VS itself; a host without it fails the deploy, loudly

    def open_edge(self) -> Edge:
        """The controller itself: HAProxy runs here, on loopback, in front of the hosts."""
        return ControllerEdge()

    def watch(self, listener: Listener | None) -> None:
        """A session that dies (a nic-down cuts it on purpose) or comes back, as a "session" event."""
        def tell(host: str, state: str, reason: str) -> None:
            if listener is not None:
                listener("session", {"host": host, "state": state, "reason": reason})

        self.sessions.listener = tell if listener is not None else None

    @property
    def _settings_file(self) -> Path:
        return FAULTS_DIR.expanduser() / f"{self.name}.swarm-settings.json"

    def guard_settings(self, before: dict[str, float | int | None] | None, seconds: float) -> Evidence:
        """Noted on the controller for `heal`; nothing is armed on the hosts (a killed controller leaves the
        settings until `heal`): {}."""
        path = self._settings_file
        if before is None:
            path.unlink(missing_ok=True)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(before))
        return {}

    def noted_settings(self) -> dict[str, float | int | None] | None:
        try:
            data = json.loads(self._settings_file.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def note_fault(self, fault: dict[str, object] | None) -> None:
        path = FAULTS_DIR.expanduser() / f"{self.name}.json"
        if fault is None:
            path.unlink(missing_ok=True)
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(fault))

    def close(self) -> None:
        self.sessions.close()
