"""One cgroup per node holding dockerd, containerd, shims and containers, so a node dies whole.

cgroup v1 (one folder per hierarchy, as on this machine) and v2 (one unified tree) are both handled.
Containers land inside through dockerd's `--cgroup-parent`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import time
from pathlib import Path

from pulltheplug.errors import LabError
from pulltheplug.waiting import wait_until

log = logging.getLogger(__name__)

CGROUP_ROOT = Path("/sys/fs/cgroup")
# v1 hierarchies the node is placed in; freezer is the one used to find and stop every process at once.
V1_HIERARCHIES = ("freezer", "pids", "memory", "cpu", "cpuacct", "blkio", "devices", "cpuset", "systemd")


def is_v2(root: Path = CGROUP_ROOT) -> bool:
    return (root / "cgroup.controllers").exists()


def dirs(rel: str, root: Path = CGROUP_ROOT) -> list[Path]:
    """The node's folder in every hierarchy it is placed in."""
    if is_v2(root):
        return [root / rel]
    return [root / h / rel for h in V1_HIERARCHIES if (root / h).is_dir()]


def join_script(rel: str) -> str:
    """Shell that moves the shell itself into the cgroup (every hierarchy), before it execs what must live
    there: a process started outside could not be killed or frozen with the node."""
    return " && ".join(f"echo $$ > {shlex.quote(str(d / 'cgroup.procs'))}" for d in dirs(rel))


def _main_dir(rel: str, root: Path = CGROUP_ROOT) -> Path:
    return root / rel if is_v2(root) else root / "freezer" / rel


def create(rel: str) -> None:
    for d in dirs(rel):
        parts = Path(rel).parts
        for i in range(1, len(parts) + 1):
            sub = d.parents[len(parts) - 1] / Path(*parts[:i])
            if not sub.exists():
                sub.mkdir()
                _inherit_cpuset(sub)


def _inherit_cpuset(d: Path) -> None:
    """A v1 cpuset cgroup takes no task until cpus and mems are set: copy the parent's."""
    for knob in ("cpuset.cpus", "cpuset.mems"):
        f = d / knob
        if f.exists() and not f.read_text().strip():
            f.write_text((d.parent / knob).read_text())


def pids(rel: str) -> list[int]:
    """Every process of the node, containers included (the whole subtree)."""
    base = _main_dir(rel)
    found: list[int] = []
    if not base.exists():
        return found
    for dirpath, _dirnames, filenames in os.walk(base):
        if "cgroup.procs" in filenames:
            try:
                text = Path(dirpath, "cgroup.procs").read_text()
            except OSError:
                continue
            found.extend(int(p) for p in text.split())
    return found


def set_frozen(rel: str, frozen: bool, timeout: float = 5.0) -> None:
    """Stop (or resume) every process of the node at once: it keeps its memory and sockets.

    Freezing is not instant (v1 reports FREEZING until every task stopped): return only once it is done.
    """
    base = _main_dir(rel)
    knob = base / ("cgroup.freeze" if is_v2() else "freezer.state")
    if not knob.exists():
        return
    knob.write_text(("1" if frozen else "0") if is_v2() else ("FROZEN" if frozen else "THAWED"))
    if not wait_until(lambda: is_frozen(rel) == frozen, timeout, 0.01):
        raise LabError(f"cgroup {rel} did not {'freeze' if frozen else 'thaw'} within {timeout:.0f}s")


def is_frozen(rel: str) -> bool:
    """Fully frozen (v1: FROZEN, not FREEZING; v2: the `frozen 1` event)."""
    base = _main_dir(rel)
    try:
        if is_v2():
            return "frozen 1" in (base / "cgroup.events").read_text()
        return (base / "freezer.state").read_text().strip() == "FROZEN"
    except OSError:
        return False


def kill_all(rel: str, timeout: float = 10.0) -> int:
    """Power cut: every process of the cgroup SIGKILLed, and return only once each one has exited.

    Freezing first keeps the processes from reacting (a daemon restarting its children), but the v1
    freezer can sit in FREEZING (seen on 20-node labs): then the processes are killed without it, again
    and again until the cgroup is empty. Returns how many processes were killed; raises if some survive.
    """
    base = _main_dir(rel)
    if not base.exists():
        return 0
    victims = set(pids(rel))
    if not victims:
        return 0
    if is_v2() and (base / "cgroup.kill").exists():
        (base / "cgroup.kill").write_text("1")
    else:
        try:
            set_frozen(rel, True, timeout=FREEZE_BEFORE_KILL)
        except LabError:
            log.warning("cgroup %s did not freeze within %.0fs: killing its processes without it",
                        rel, FREEZE_BEFORE_KILL)
        try:
            _kill(pids(rel))
        finally:
            _thaw(rel)  # frozen (or freezing), the killed processes could never die
    deadline = time.monotonic() + timeout
    while True:
        left = pids(rel)
        victims.update(left)
        if not left:
            break
        if time.monotonic() > deadline:
            raise LabError(f"processes of cgroup {rel} survived SIGKILL: {left[:5]}")
        _kill(left)  # children forked meanwhile (or never frozen) die too
        time.sleep(0.05)
    _wait_exited(victims, deadline)
    return len(victims)


FREEZE_BEFORE_KILL = 2.0  # seconds; past this the freeze is given up, not the kill


def _kill(victims: list[int]) -> None:
    for pid in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _thaw(rel: str) -> None:
    knob = _main_dir(rel) / ("cgroup.freeze" if is_v2() else "freezer.state")
    with contextlib.suppress(OSError):
        knob.write_text("0" if is_v2() else "THAWED")


def _exiting(pid: int) -> bool:
    """Still in /proc as a zombie (or dying): not yet reaped. A live process there now is a reused pid."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] in ("Z", "X")


def _wait_exited(victims: set[int], deadline: float) -> None:
    """Until each process is gone from /proc (ours reaped; others' reaped by their parent, or PID 1).

    A process that left its cgroup may still be exiting (freeing its memory) or wait as a zombie: its
    ports, mounts and sockets are not free until then, and `ps` still lists it.
    """
    left = set(victims)
    while left:
        for pid in list(left):
            with contextlib.suppress(ChildProcessError):
                os.waitpid(pid, os.WNOHANG)
            if not _exiting(pid):
                left.discard(pid)
        if not left:
            return
        if time.monotonic() > deadline:
            log.warning("%d killed processes not reaped yet (zombies of another parent): %s",
                        len(left), sorted(left)[:5])
            return
        time.sleep(0.05)


def memory_bytes(rel: str) -> int:
    """Memory the node uses, children included (0 where the controller is missing)."""
    f = CGROUP_ROOT / rel / "memory.current" if is_v2() else CGROUP_ROOT / "memory" / rel / "memory.usage_in_bytes"
    try:
        return int(f.read_text())
    except (OSError, ValueError):
        return 0


def remove(rel: str) -> None:
    """Remove the cgroup subtree, deepest first (only empty cgroups can be removed)."""
    for d in dirs(rel):
        if not d.exists():
            continue
        for dirpath, _dirnames, _files in sorted(os.walk(d), key=lambda w: -len(w[0])):
            with contextlib.suppress(OSError):
                os.rmdir(dirpath)
