"""Long-running processes a lab node runs besides dockerd, as a real host runs system services
(keepalived for a VIP): in the node's network namespace and cgroup, so a power cut kills them and a freeze
hangs them with the node; stopped first on a graceful shutdown; started again when the node boots.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path

from pulltheplug.lab import cgroups
from pulltheplug.lab.network import NETNS_DIR
from pulltheplug.lab.plan import NodePlan
from pulltheplug.waiting import wait_until

_children: dict[int, subprocess.Popen[bytes]] = {}  # reaped when stopped; a power cut's are reaped by kill_all


def start(node: NodePlan, name: str, argv: Sequence[str]) -> int:
    cgroups.create(node.cgroup)
    joins = cgroups.join_script(node.cgroup)
    script = f"{joins} && exec {shlex.join(argv)}"
    Path(node.dir).mkdir(parents=True, exist_ok=True)
    with open(Path(node.dir) / f"{name}.log", "ab") as out:
        proc = subprocess.Popen(["nsenter", f"--net={NETNS_DIR / node.netns}", "sh", "-c", script],
                                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    _children[proc.pid] = proc
    return proc.pid


def stop(pid: int, timeout: float = 5.0) -> None:
    """SIGTERM (a keepalived says goodbye: priority 0), SIGKILL after `timeout`; waits until it is gone."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    while not wait_until(lambda: not alive(pid), timeout):  # SIGKILL every `timeout` until it is gone
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    _children.pop(pid, None)


def alive(pid: int) -> bool:
    proc = _children.get(pid)
    if proc is not None:
        return proc.poll() is None
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state not in ("Z", "X")
