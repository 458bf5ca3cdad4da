"""A flapping link, driven outside the controller: a shell loop that takes a node's eth0 down and up.

It runs in the lab's `faults` cgroup (so `lab down` and `heal` end it, a node's power cut does not), counts
its own cycles and always ends with the link up: even if the controller dies, the flapping stops by itself
at the fault's end. Each change is logged with the host's wall clock, for the evidence.
"""

from __future__ import annotations

import contextlib
import math
import os
import shlex
import signal
import subprocess
from pathlib import Path

from pulltheplug.errors import FaultError
from pulltheplug.lab import cgroups
from pulltheplug.lab.plan import LabPlan, NodePlan
from pulltheplug.waiting import wait_until


def cgroup(plan: LabPlan) -> str:
    return f"{plan.cgroup}/faults"


def log_path(node: NodePlan) -> Path:
    return Path(node.dir) / "flap.log"


def start(plan: LabPlan, node: NodePlan, period: float, down: float, seconds: float) -> int:
    cycles = max(1, math.floor(seconds / period))
    link = f"ip -n {shlex.quote(node.netns)} link set eth0"
    log = shlex.quote(str(log_path(node)))
    loop = (f"i=0; while [ $i -lt {cycles} ]; do {link} down; echo \"$(date +%s.%N) down\" >> {log}; "
            f"sleep {down:.3f}; {link} up; echo \"$(date +%s.%N) up\" >> {log}; sleep {period - down:.3f}; "
            f"i=$((i+1)); done; {link} up")
    cgroups.create(cgroup(plan))
    log_path(node).unlink(missing_ok=True)
    pid_file = Path(node.dir) / "flap.pid"
    pid_file.unlink(missing_ok=True)
    # detached (setsid -f): init, not the controller, reaps it, so a heal from any process sees it end
    script = f"{cgroups.join_script(cgroup(plan))} && echo $$ > {shlex.quote(str(pid_file))} && {loop}"
    subprocess.run(["setsid", "-f", "sh", "-c", script], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, check=True)
    def started() -> int | None:
        with contextlib.suppress(OSError, ValueError):
            return int(pid_file.read_text())
        return None

    pid = wait_until(started, 5, 0.01)
    if pid is None:
        raise FaultError(f"{node.name}: the flapping loop did not start")
    return pid


def stop(plan: LabPlan, pid: int, timeout: float = 5.0) -> None:
    """End the loop (ours, by pid: its own session, so its sleep too), if it still runs in the lab's faults
    cgroup (it may have ended by itself and its pid been reused); the caller then brings the link up."""
    if pid not in cgroups.pids(cgroup(plan)):
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pid, signal.SIGKILL)
    wait_until(lambda: not Path(f"/proc/{pid}").exists(), timeout, 0.01)


def downs(node: NodePlan) -> int:
    """How many times the loop took the link down."""
    try:
        return sum(1 for line in log_path(node).read_text().splitlines() if line.endswith(" down"))
    except OSError:
        return 0


def stop_all(plan: LabPlan) -> int:
    """Every flapping loop of the lab (after a killed run); how many processes were ended."""
    return cgroups.kill_all(cgroup(plan))
