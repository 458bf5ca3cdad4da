"""Remote command strings for faults on real hosts, each with its revert armed ON THE NODE first.

A nic-down cuts the SSH session that sent it, and the controller itself may die mid-fault: the node must
heal by itself. So every reversible fault is one remote command that (1) starts a detached timer that
reverts the fault after `seconds`, (2) waits until that timer is really running, and only then
(3) injects. If the timer cannot be armed the command exits `NOT_ARMED` and nothing is injected.

Two timers: `systemd-run --on-active` (preferred: systemd owns it, no session can take it down) and
`setsid sh -c 'sleep D; REVERT'` for hosts without systemd as PID 1 (this machine; verified by hand:
eth0 came back 6 s after the SSH session died). A nic-down's timer starts at the cut itself (a mark the
cutting command touches), so the link is down for what was asked, not that less the command's trip.
Machine-level faults (reboot, crash, power) have no revert to arm; they are guarded instead: never on the machine
the controller runs on (same boot_id).

Pure: builds strings, runs nothing. A host's `faults:` overrides replace the inject and revert parts
({iface}, {seconds} substituted); the arming and its order are always ours.
"""

from __future__ import annotations

import shlex
from typing import Literal

from pulltheplug.cluster.traffic import TABLE
from pulltheplug.ssh.errors import MachineFaultRefusedError
from pulltheplug.ssh.inventory import FaultAction, Host

Timer = Literal["systemd-run", "setsid"]
NOT_ARMED = 97  # exit status of a fault command whose dead-man could not be armed (nothing injected)
MACHINE_FAULTS = frozenset({"reboot", "crash", "power-loss"})

# Where docker, containerd and containers live: cgroup v2 (systemd or cgroupfs driver), then v1's freezer.
DOCKER_CGROUPS_V2 = ("/sys/fs/cgroup/system.slice/docker.service", "/sys/fs/cgroup/system.slice/containerd.service",
              "/sys/fs/cgroup/system.slice/docker-*.scope", "/sys/fs/cgroup/docker")
DOCKER_CGROUPS_V1 = tuple(g.replace("/sys/fs/cgroup/", "/sys/fs/cgroup/freezer/") for g in DOCKER_CGROUPS_V2)


def _freezer(v2_value: str, v1_value: str) -> str:
    """Write every docker/containerd cgroup's freezer; exit 0 only when at least one was there."""
    v2 = " ".join(DOCKER_CGROUPS_V2)
    v1 = " ".join(DOCKER_CGROUPS_V1)
    return (f'n=0; for g in {v2}; do [ -f "$g/cgroup.freeze" ] && echo {v2_value} > "$g/cgroup.freeze" '
            f'&& n=$((n+1)); done; for g in {v1}; do [ -f "$g/freezer.state" ] && echo {v1_value} > '
            f'"$g/freezer.state" && n=$((n+1)); done; [ "$n" -gt 0 ]')


DEFAULTS: dict[FaultAction, str] = {
    "nic-down": "ip link set {iface} down",
    "nic-up": "ip link set {iface} up",
    "freeze": _freezer("1", "FROZEN"),
    "thaw": _freezer("0", "THAWED"),
    "reboot": "systemctl reboot",
    "crash": "echo b > /proc/sysrq-trigger",  # root may always write the trigger; the sysctl guards keyboards
    "unfilter": f"nft delete table inet {TABLE} 2>/dev/null; true",  # partitions and loss: our table only
    # engine-crash: SIGKILL, then stop the units, so systemd's Restart= (docker.service restarts a dead engine
    # within 2 s) and socket activation (any client's connect would start it) leave it down for the fault
    "engine-kill": ("systemctl kill --signal=SIGKILL docker.service containerd.service && "
                    "systemctl stop docker.socket docker.service containerd.service"),
    "engine-start": "systemctl start containerd.service docker.socket docker.service",
}


def filter_command(ruleset: str) -> str:
    """Load our nftables table (made anew in one transaction) and say how many drop rules it holds."""
    return (f"printf '%s' {shlex.quote(ruleset)} | nft -f - && nft list table inet {TABLE} | grep -c ' drop'")


def _poll(pending: str, every: str, times: int) -> str:
    """Shell that polls while `pending` holds, `times` at most, `every` seconds apart (then goes on anyway)."""
    return f"i=0; while {pending} && [ $i -lt {times} ]; do sleep {every}; i=$((i+1)); done"


def _wait_pid(pid: str) -> str:
    """Shell that waits up to 5 s for a detached process to write its pid file: it runs."""
    return _poll(f"[ ! -s {pid} ]", "0.1", 50)


def flap_files(host: str) -> tuple[str, str]:
    """The flapping loop's pid file and log on the host."""
    return f"/run/pulltheplug-flap-{host}.pid", f"/run/pulltheplug-flap-{host}.log"


def flap(host: Host, iface: str, period: float, down: float, seconds: float) -> str:
    """A detached loop: the link down `down` in every `period`, for `seconds`, ending with the link up; the
    command returns once the loop runs (its pid written). Each change is logged with the host's clock."""
    pid, log = flap_files(host.name)
    cycles = max(1, int(seconds // period))
    link_down, link_up = action_command(host, "nic-down", iface, down), action_command(host, "nic-up", iface)
    loop = (f"echo $$ > {pid}; i=0; while [ $i -lt {cycles} ]; do {link_down}; echo \"$(date +%s.%N) down\" >> {log}; "
            f"sleep {seconds_text(down)}; {link_up}; echo \"$(date +%s.%N) up\" >> {log}; "
            f"sleep {seconds_text(period - down)}; i=$((i+1)); done; {link_up}; rm -f {pid}")
    return (f"rm -f {pid} {log}; setsid sh -c {shlex.quote(loop)} </dev/null >/dev/null 2>&1 & {_wait_pid(pid)}; "
            f"[ -s {pid} ]")


def unflap(host: Host, iface: str) -> str:
    """End the loop (its process group), the link up, and print how many times it went down."""
    pid, log = flap_files(host.name)
    return (f'[ -s {pid} ] && kill -9 -"$(cat {pid})" 2>/dev/null; rm -f {pid}; '
            f"{action_command(host, 'nic-up', iface)}; grep -c ' down$' {log} 2>/dev/null || echo 0")


def seconds_text(seconds: float) -> str:
    """'20' for 20.0, '2.5' for 2.5: what sleep and systemd both read."""
    if seconds <= 0:
        raise ValueError(f"a dead-man needs a positive delay, not {seconds}")
    return str(int(seconds)) if float(seconds).is_integer() else f"{seconds:.3f}".rstrip("0")


def action_command(host: Host, action: FaultAction, iface: str = "", seconds: float | None = None) -> str:
    """The host's command for one action: its override if it has one, else ours, with {iface}, {seconds}."""
    template = host.faults.get(action, DEFAULTS[action])
    return template.format(iface=shlex.quote(iface) if iface else "",
                           seconds=seconds_text(seconds) if seconds is not None else "")


def unit_name(action: FaultAction, host: str) -> str:
    """The dead-man's name on the node (systemd unit, or pid file stem): one per action per host.

    The host's name is in it because lab nodes standing in for hosts share one /run.
    """
    return f"pulltheplug-revert-{action}-{host}"


def pid_file(action: FaultAction, host: str) -> str:
    return f"/run/{unit_name(action, host)}.pid"


def cut_mark(host: str) -> str:
    """The file a nic-down touches on the host just before the cut: its dead-man's clock starts there."""
    return f"/run/pulltheplug-cut-{host}"


def arm(revert: str, revert_action: FaultAction, host: str, seconds: float, timer: Timer,
        from_cut: bool = False) -> str:
    """One remote command: the revert scheduled on the node and checked running; exit NOT_ARMED if not.

    `from_cut`: the delay counts from the moment the fault's command touches `cut_mark` (within 50 ms), not from
    the arming. A nic-down's dead-man IS its revert, so the cut lasts what was asked however late the command
    that cuts arrives (a loaded controller took 0.5 s to send it here). With no cut within 30 s the delay runs
    anyway: the revert of a fault that never came is harmless."""
    delay = seconds_text(seconds)
    mark = cut_mark(host)
    wait_cut = f"{_poll(f'[ ! -e {mark} ]', '0.05', 600)}; rm -f {mark}; " if from_cut else ""
    unit = unit_name(revert_action, host)
    if timer == "systemd-run":
        if not from_cut:
            return (f"systemd-run --quiet --collect --unit={unit} --on-active={delay}s "
                    f"/bin/sh -c {shlex.quote(revert)} || exit {NOT_ARMED}")
        body = f"{wait_cut}sleep {delay}; {revert}"  # a service that starts now and waits for the cut itself
        return (f"rm -f {mark}; systemd-run --quiet --collect --unit={unit} /bin/sh -c {shlex.quote(body)} "
                f"|| exit {NOT_ARMED}")
    pid = pid_file(revert_action, host)
    body = f"echo $$ > {pid}; {wait_cut}sleep {delay}; {revert}; rm -f {pid}"
    stale = f"{pid} {mark}" if from_cut else pid
    start = f"rm -f {stale}; setsid sh -c {shlex.quote(body)} </dev/null >/dev/null 2>&1 &"
    return f"{start} {_wait_pid(pid)}; [ -s {pid} ] || exit {NOT_ARMED}"


def cut(host: Host, iface: str, seconds: float) -> str:
    """The nic-down itself, the mark touched first: a dead-man armed `from_cut` starts its clock here."""
    return f": > {cut_mark(host.name)}; {action_command(host, 'nic-down', iface, seconds)}"


def arm_then_inject(inject: str, revert: str, revert_action: FaultAction, host: str, seconds: float,
                    timer: Timer) -> str:
    """One remote command: the revert armed (`arm`), then the fault."""
    return f"{arm(revert, revert_action, host, seconds, timer)}; {inject}"


def disarm(revert_action: FaultAction, host: str, timer: Timer) -> str:
    """Cancel a dead-man once the controller reverted by itself (so it cannot undo a later fault)."""
    if timer == "systemd-run":
        unit = unit_name(revert_action, host)  # a timer, or a service waiting for the cut (`arm(from_cut=True)`)
        return f"systemctl stop {unit}.timer {unit}.service 2>/dev/null; true"
    pid = pid_file(revert_action, host)
    return f'[ -s {pid} ] && kill "$(cat {pid})" 2>/dev/null; rm -f {pid}; true'


def nic_down(host: Host, iface: str, seconds: float, timer: Timer) -> str:
    """Link down with the link-up armed first, counting from the cut; the SSH session dies with the link:
    confirm, do not wait."""
    armed = arm(action_command(host, "nic-up", iface, seconds), "nic-up", host.name, seconds, timer, from_cut=True)
    return f"{armed}; {cut(host, iface, seconds)}"


def nic_up(host: Host, iface: str) -> str:
    return action_command(host, "nic-up", iface)


def freeze(host: Host, seconds: float, timer: Timer) -> str:
    """Every docker/containerd process and container stopped, the thaw armed first."""
    return arm_then_inject(action_command(host, "freeze", seconds=seconds),
                           action_command(host, "thaw", seconds=seconds), "thaw", host.name, seconds, timer)


def thaw(host: Host) -> str:
    return action_command(host, "thaw")


def refuse_machine_fault(host_boot_id: str, controller_boot_id: str, fault: str, host: str = "host") -> None:
    """Never reboot, crash or power off the machine the controller runs on (a lab node shares its kernel)."""
    if fault not in MACHINE_FAULTS:
        return
    if not host_boot_id.strip() or not controller_boot_id.strip():
        raise MachineFaultRefusedError(f"{host}: {fault} refused: its boot_id is unknown, so it may be this machine")
    if host_boot_id.strip() == controller_boot_id.strip():
        raise MachineFaultRefusedError(
            f"{host}: {fault} refused: it runs on the same kernel as the controller (same boot_id); "
            "run pulltheplug from another machine")


def reboot(host: Host, host_boot_id: str, controller_boot_id: str) -> str:
    """A graceful reboot, built only after the boot_id guard passed."""
    refuse_machine_fault(host_boot_id, controller_boot_id, "reboot", host.name)
    return action_command(host, "reboot")


def crash(host: Host, host_boot_id: str, controller_boot_id: str) -> str:
    """An immediate reset without sync (sysrq b), built only after the boot_id guard passed."""
    refuse_machine_fault(host_boot_id, controller_boot_id, "crash", host.name)
    return action_command(host, "crash")
