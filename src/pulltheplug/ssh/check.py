"""`cluster check`: can every planned fault run on every host? Asked over SSH, judged by a pure function.

Facts are gathered per host in one remote probe command plus Docker through the forwarded socket;
`evaluate` turns facts and the planned faults into checks, each marked required or not. A host passes
when every required check passes; the command exits 0 only when every host passes.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import docker
import requests

from pulltheplug.errors import ClusterError
from pulltheplug.ssh import deadman
from pulltheplug.ssh.choices import DEFAULT_FAULTS, PLANNABLE_FAULTS
from pulltheplug.ssh.errors import SshError
from pulltheplug.ssh.inventory import Host, Inventory
from pulltheplug.ssh.power import power_status
from pulltheplug.ssh.session import HostSession, Sessions, SshOptions

NEEDS_ROOT = frozenset({"nic-down", "freeze", "reboot", "power-loss", "partition", "loss", "flap", "engine-crash"})
NEEDS_DEADMAN = frozenset({"nic-down", "freeze", "partition", "loss", "flap", "engine-crash"})
NEEDS_NFT = frozenset({"partition", "loss"})
NEEDS_INTERFACE = frozenset({"nic-down", "loss", "flap"})
CLOCK_WARN_S = 0.5  # beyond this, host-side timestamps would blur outage edges in the report
BOOT_ID = Path("/proc/sys/kernel/random/boot_id")

# One remote command: key=value lines (ip -j prints its JSON on one line). The clock is asked apart, alone.
_FREEZER_GLOBS = " ".join([f"{g}/cgroup.freeze" for g in deadman.DOCKER_CGROUPS_V2]
                          + [f"{g}/freezer.state" for g in deadman.DOCKER_CGROUPS_V1])
PROBE = (
    'echo "arch=$(uname -m)"; echo "boot_id=$(cat /proc/sys/kernel/random/boot_id)"; '
    'echo "setsid=$(command -v setsid)"; echo "systemd_run=$(command -v systemd-run)"; '
    'echo "pid1=$(cat /proc/1/comm)"; echo "sysrq=$(cat /proc/sys/kernel/sysrq)"; '
    'echo "sysrq_trigger=$([ -e /proc/sysrq-trigger ] && echo yes)"; '
    f'echo "freezers=$(ls -d {_FREEZER_GLOBS} 2>/dev/null | wc -l)"; '
    'echo "nft=$(command -v nft || ls /usr/sbin/nft /sbin/nft 2>/dev/null | head -n 1)"; '
    'echo "ip=$(ip -j addr show 2>/dev/null)"'
)


@dataclass(frozen=True, slots=True, kw_only=True)
class HostFacts:
    """What a host said; empty strings and None mean "not found" or "could not ask"."""

    host: str
    reachable: bool
    error: str = ""
    uid: int | None = None
    arch: str = ""
    boot_id: str = ""
    clock_offset: float | None = None  # host clock minus the controller's, seconds
    setsid: bool = False
    systemd_run: bool = False
    systemd_pid1: bool = False
    sysrq: int | None = None
    sysrq_trigger: bool = False
    freezers: int = 0  # docker/containerd cgroups with a freezer
    nft: bool = False  # nftables' CLI (partitions, loss)
    interfaces: dict[str, list[str]] = field(default_factory=dict)  # name -> IPv4/IPv6 addresses
    docker_version: str = ""
    docker_error: str = ""
    swarm_state: str = ""
    swarm_role: str | None = None
    swarm_address: str = ""
    power_ok: bool | None = None  # None: no driver
    power_detail: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class Check:
    name: str
    ok: bool
    detail: str
    advice: str = ""
    required: bool = True


@dataclass(frozen=True, slots=True, kw_only=True)
class HostReport:
    host: str
    facts: HostFacts
    checks: tuple[Check, ...]
    interface: str | None  # the interface a nic-down takes down

    @property
    def passes(self) -> bool:
        return all(c.ok for c in self.checks if c.required)

    def to_json(self) -> dict[str, Any]:
        facts = {k: getattr(self.facts, k) for k in HostFacts.__dataclass_fields__}
        return {"host": self.host, "passes": self.passes, "interface": self.interface, "facts": facts,
                "checks": [{k: getattr(c, k) for k in Check.__dataclass_fields__} for c in self.checks]}


def parse_faults(text: str) -> tuple[str, ...]:
    faults = tuple(f.strip() for f in text.split(",") if f.strip())
    unknown = [f for f in faults if f not in PLANNABLE_FAULTS]
    if unknown or not faults:
        raise ClusterError(f"--faults {text!r}: use a comma-separated list of {', '.join(PLANNABLE_FAULTS)}")
    return faults


def parse_probe(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep:
            out[key.strip()] = value.strip()
    return out


def parse_interfaces(ip_json: str) -> dict[str, list[str]]:
    """`ip -j addr show` -> {ifname: [addresses]}; empty on anything unreadable."""
    try:
        data = json.loads(ip_json or "[]")
    except json.JSONDecodeError:
        return {}
    return {str(link.get("ifname")): [str(a.get("local")) for a in link.get("addr_info", []) if a.get("local")]
            for link in data if isinstance(link, dict) and link.get("ifname")}


def fault_interface(host: Host, facts: HostFacts) -> str | None:
    """The declared interface, else the one carrying the swarm's advertise address."""
    if host.interface:
        return host.interface
    for name, addresses in facts.interfaces.items():
        if facts.swarm_address and facts.swarm_address in addresses:
            return name
    return None


def evaluate(host: Host, facts: HostFacts, controller_boot_id: str, faults: Sequence[str]) -> HostReport:
    """Pure: the checks the planned faults need on this host, from what the host said."""
    planned = set(faults)
    if "quorum-loss" in planned:  # a majority of the managers lose power: each must take a power-loss
        planned.add("power-loss")
    if not facts.reachable:
        check = Check(name="reachable", ok=False, detail=facts.error, advice="fix SSH first")
        return HostReport(host=host.name, facts=facts, checks=(check,), interface=None)
    iface = fault_interface(host, facts)
    checks = [
        Check(name="reachable", ok=True, detail=f"{host.user}@{host.address}:{host.port}"),
        _root(host, facts, required=bool(planned & NEEDS_ROOT)),
        _docker(facts),
        _swarm(host, facts),
        _interface(host, facts, iface, required=bool(planned & NEEDS_INTERFACE)),
        Check(name="architecture", ok=bool(facts.arch), detail=facts.arch or "unknown", required=False),
        _clock(facts),
        _deadman(facts, required=bool(planned & NEEDS_DEADMAN)),
    ]
    if "freeze" in planned:
        checks.append(_freezer(host, facts))
    if planned & NEEDS_NFT:
        checks.append(Check(name="nftables", ok=facts.nft, detail="nft found" if facts.nft else "no nft",
                            advice="" if facts.nft else "install nftables (apt install nftables)"))
    if planned & {"reboot", "power-loss"}:
        # the guard holds for what runs on the host itself (reboot, a sysrq crash); a power driver acts on
        # the host's supply, so the same boot_id is then said but does not stop the run
        on_host = "reboot" in planned or ("power-loss" in planned and host.power is None)
        checks.append(_machine_guard(facts, controller_boot_id, required=on_host))
    if "reboot" in planned:
        checks.append(_reboot(host, facts))
    if "engine-crash" in planned:
        checks.append(_engine_units(host, facts))
    checks.append(_sysrq(facts, required="power-loss" in planned and host.power is None))
    if host.power is not None or "power-loss" in planned:
        checks.append(_power(host, facts, required="power-loss" in planned))
    return HostReport(host=host.name, facts=facts, checks=tuple(checks), interface=iface)


def _root(host: Host, facts: HostFacts, required: bool) -> Check:
    how = "sudo -n" if host.sudo else "login"
    if facts.uid == 0:
        return Check(name="root", ok=True, detail=f"uid 0 through {how}", required=required)
    advice = ("allow passwordless sudo for this user" if host.sudo
              else "log in as root, or set `sudo: true` with passwordless sudo")
    found = "sudo -n failed" if host.sudo and facts.uid is None else f"uid {facts.uid}"
    return Check(name="root", ok=False, detail=found, advice=advice, required=required)


def _docker(facts: HostFacts) -> Check:
    if facts.docker_version:
        return Check(name="docker", ok=True, detail=f"running, version {facts.docker_version}")
    return Check(name="docker", ok=False, detail=facts.docker_error or "no answer",
                 advice="start dockerd; the SSH user must be root or in the docker group; check docker_socket")


def _swarm(host: Host, facts: HostFacts) -> Check:
    if facts.swarm_state != "active":
        return Check(name="swarm", ok=False, detail=f"state {facts.swarm_state or 'unknown'}",
                     advice="run `pulltheplug cluster form INVENTORY`")
    if host.role and host.role != facts.swarm_role:
        return Check(name="swarm", ok=False, detail=f"declared {host.role}, the swarm says {facts.swarm_role}",
                     advice="fix role: in the inventory (or leave it out to read it from the swarm)")
    return Check(name="swarm", ok=True, detail=f"active, {facts.swarm_role}, address {facts.swarm_address}")


def _interface(host: Host, facts: HostFacts, iface: str | None, required: bool) -> Check:
    if iface is None:
        return Check(name="interface", ok=False, required=required,
                     detail=f"no interface carries the swarm address {facts.swarm_address or '(unknown)'}",
                     advice="set interface: for this host")
    if iface not in facts.interfaces:
        return Check(name="interface", ok=False, detail=f"{iface} not found", required=required,
                     advice=f"pick one of {', '.join(sorted(facts.interfaces)) or '(none listed)'}")
    if facts.swarm_address and facts.swarm_address not in facts.interfaces[iface]:
        return Check(name="interface", ok=False, required=required,
                     detail=f"{iface} does not carry the swarm address {facts.swarm_address}",
                     advice="fault the interface the swarm talks over, or advertise its address")
    return Check(name="interface", ok=True, detail=f"{iface} carries {facts.swarm_address}", required=required)


def _clock(facts: HostFacts) -> Check:
    if facts.clock_offset is None:
        return Check(name="clock", ok=False, detail="unknown", required=False)
    ok = abs(facts.clock_offset) <= CLOCK_WARN_S
    return Check(name="clock", ok=ok, detail=f"offset {facts.clock_offset * 1000:+.0f} ms to the controller",
                 advice="" if ok else "run NTP (chrony, systemd-timesyncd) on the host", required=False)


def timer_of(facts: HostFacts) -> deadman.Timer | None:
    """systemd-run when systemd is PID 1 (no session can take the timer down), else setsid, else none."""
    if facts.systemd_run and facts.systemd_pid1:
        return "systemd-run"
    return "setsid" if facts.setsid else None


def _deadman(facts: HostFacts, required: bool) -> Check:
    timer = timer_of(facts)
    if timer is None:
        return Check(name="dead-man", ok=False, detail="neither systemd-run (with systemd as PID 1) nor setsid",
                     advice="install util-linux (setsid)", required=required)
    return Check(name="dead-man", ok=True, detail=timer, required=required)


def _engine_units(host: Host, facts: HostFacts) -> Check:
    """engine-crash stops and starts the engine through systemd (docker.service, containerd.service)."""
    if {"engine-kill", "engine-start"} <= set(host.faults):
        return Check(name="engine units", ok=True, detail="the host's own engine-kill and engine-start commands")
    return Check(name="engine units", ok=facts.systemd_pid1, detail="systemd" if facts.systemd_pid1 else
                 "systemd is not PID 1", advice="" if facts.systemd_pid1 else
                 "set faults.engine-kill and faults.engine-start for this host")


def _freezer(host: Host, facts: HostFacts) -> Check:
    if host.power is not None and host.power.kind == "qemu":
        return Check(name="freezer", ok=True, detail="the whole machine paused through its QEMU monitor")
    if "freeze" in host.faults:
        return Check(name="freezer", ok=True, detail="the host's own freeze command")
    if facts.freezers:
        return Check(name="freezer", ok=True, detail=f"{facts.freezers} docker/containerd cgroups")
    return Check(name="freezer", ok=False, detail="no docker/containerd cgroup with a freezer",
                 advice="set faults.freeze/thaw for this host")


def _machine_guard(facts: HostFacts, controller_boot_id: str, required: bool = True) -> Check:
    same = bool(facts.boot_id) and facts.boot_id == controller_boot_id
    if same or not facts.boot_id:
        return Check(name="not this machine", ok=False,
                     detail="same boot_id as the controller" if same else "boot_id unknown",
                     advice="reboot/power faults would hit the controller: run pulltheplug from another machine",
                     required=required)
    return Check(name="not this machine", ok=True, detail="boot_id differs from the controller's", required=required)


def _reboot(host: Host, facts: HostFacts) -> Check:
    if "reboot" in host.faults or facts.systemd_pid1:
        return Check(name="reboot", ok=True, detail="own command" if "reboot" in host.faults else "systemctl reboot")
    return Check(name="reboot", ok=False, detail="systemd is not PID 1", advice="set faults.reboot for this host")


def _sysrq(facts: HostFacts, required: bool) -> Check:
    ok = facts.sysrq_trigger and facts.uid == 0
    sysctl = "unknown" if facts.sysrq is None else str(facts.sysrq)
    trigger = "present" if facts.sysrq_trigger else "absent"
    return Check(name="sysrq", ok=ok, required=required, detail=f"kernel.sysrq={sysctl}, trigger {trigger}",
                 advice="" if ok else "a crash needs /proc/sysrq-trigger and root; or add a power driver")


def _power(host: Host, facts: HostFacts, required: bool) -> Check:
    if host.power is None:
        return Check(name="power", ok=facts.sysrq_trigger and facts.uid == 0, required=required,
                     detail="no driver: power-loss is a sysrq crash",
                     advice="add a power driver, or allow the sysrq crash")
    return Check(name="power", ok=bool(facts.power_ok), detail=facts.power_detail, required=required,
                 advice="" if facts.power_ok else "fix the power driver's commands")


def gather(session: HostSession, host: Host, timeout: float) -> HostFacts:
    """Ask one host: the probe command (as the login user), `id -u` as root, Docker, the power driver."""
    try:
        session.connect()
    except SshError as exc:
        return HostFacts(host=host.name, reachable=False, error=str(exc).removeprefix(f"{host.name}: "))
    power_ok, power_detail = power_status(host) if host.power is not None else (None, "")
    try:
        result = session.run(PROBE, timeout, as_root=False)
        uid = session.run("id -u", timeout)
        offset, _ = session.clock_offset(timeout=timeout)
    except SshError as exc:
        return HostFacts(host=host.name, reachable=False, error=str(exc).removeprefix(f"{host.name}: "))
    probe = parse_probe(result.stdout)
    docker_facts = _docker_facts(session, timeout)
    return HostFacts(
        host=host.name, reachable=True,
        uid=int(uid.stdout) if uid.exit == 0 and uid.stdout.strip().isdigit() else None,
        arch=probe.get("arch", ""), boot_id=probe.get("boot_id", ""),
        clock_offset=offset,
        setsid=bool(probe.get("setsid")), systemd_run=bool(probe.get("systemd_run")),
        systemd_pid1=probe.get("pid1") == "systemd",
        sysrq=int(probe["sysrq"]) if probe.get("sysrq", "").isdigit() else None,
        sysrq_trigger=probe.get("sysrq_trigger") == "yes",
        freezers=int(probe["freezers"]) if probe.get("freezers", "").isdigit() else 0,
        nft=bool(probe.get("nft")),
        interfaces=parse_interfaces(probe.get("ip", "")),
        power_ok=power_ok, power_detail=power_detail, **docker_facts)


def _docker_facts(session: HostSession, timeout: float) -> dict[str, Any]:
    try:
        client = session.docker_client(timeout)
        try:
            version = str(client.version().get("Version", ""))
            swarm = client.info().get("Swarm", {}) or {}
        finally:
            client.close()
    except (SshError, docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
        return {"docker_error": first.removeprefix(f"{session.name}: ")}
    state = str(swarm.get("LocalNodeState", ""))
    role = ("manager" if swarm.get("ControlAvailable") else "worker") if state == "active" else None
    return {"docker_version": version, "swarm_state": state, "swarm_role": role,
            "swarm_address": str(swarm.get("NodeAddr", ""))}


def controller_boot_id(path: Path = BOOT_ID) -> str:
    try:
        return path.read_text().strip()
    except OSError:
        return ""


def check_cluster(inventory: Inventory, faults: Iterable[str] = DEFAULT_FAULTS, options: SshOptions | None = None,
                  timeout: float = 10.0) -> list[HostReport]:
    """Every host asked in parallel; reports in inventory order."""
    planned = tuple(faults)
    ours = controller_boot_id()
    with Sessions(inventory, options) as sessions, ThreadPoolExecutor(max_workers=len(inventory.hosts)) as pool:
        facts = list(pool.map(lambda h: gather(sessions[h.name], h, timeout), inventory.hosts))
    return [evaluate(h, f, ours, planned) for h, f in zip(inventory.hosts, facts, strict=True)]
