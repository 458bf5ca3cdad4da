"""The lab's dead-man: a process outside the controller that heals the lab when a fault outlives its run.

Armed before a fault's clock starts, it sleeps (a shell's sleep) for the fault's duration plus a margin, then
heals the lab (`Lab.heal`: links up, filters gone, nodes thawed and booted, swarm settings put back) if the fault is
still noted in the lab's fault file, i.e. no run reverted it, or a run's swarm settings are (`Lab.guard_settings`
arms one of these for them too, for the run's whole length). So a controller killed with SIGKILL mid-fault still
leaves a whole lab. It lives in the lab's own cgroup (`lab down` ends it) but not in a node's (a power cut spares it).
The run disarms it by pid when it reverts by itself.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

from pulltheplug.errors import FaultError
from pulltheplug.lab import cgroups
from pulltheplug.lab.plan import LabPlan

log = logging.getLogger(__name__)

ARMED = "armed"  # the line the dead-man prints once it is in its cgroup and sleeping


def cgroup(plan: LabPlan) -> str:
    return f"{plan.cgroup}/deadman"


def arm(plan: LabPlan, seconds: float, timeout: float = 10.0) -> int:
    """Start the dead-man; its pid once it says it is armed. FaultError when it did not (inject nothing)."""
    cgroups.create(cgroup(plan))
    joins = cgroups.join_script(cgroup(plan))
    # the shell says armed and sleeps; Python starts only if it fires: arming takes a fork, not an interpreter's
    # start (0.1 to 0.5 s on a loaded machine, which moved a schedule's second fault that much off its offset)
    argv = [sys.executable, "-m", "pulltheplug.lab.deadman_fire", plan.name, f"{seconds:.3f}"]
    script = f"{joins} && echo {ARMED} && sleep {seconds:.3f} && exec {shlex.join(argv)} >/dev/null"
    out = Path(plan.dir) / "deadman.log"
    with open(out, "ab") as log_file:
        proc = subprocess.Popen(["sh", "-c", script], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=log_file, start_new_session=True)
    assert proc.stdout is not None
    deadline = time.monotonic() + timeout
    line = b""
    while time.monotonic() < deadline and proc.poll() is None:
        line = proc.stdout.readline()
        if line.strip() == ARMED.encode():
            break
    proc.stdout.close()
    if line.strip() != ARMED.encode():
        _children[proc.pid] = proc
        disarm(proc.pid)  # killed and reaped
        raise FaultError(f"the lab's dead-man did not start (see {out}): nothing injected")
    _children[proc.pid] = proc
    return proc.pid


_children: dict[int, subprocess.Popen[bytes]] = {}


def disarm(pid: int) -> None:
    """End the dead-man (ours, by pid: its own process group, the shell and its sleep) and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    proc = _children.pop(pid, None)
    if proc is not None:
        proc.wait(5)
