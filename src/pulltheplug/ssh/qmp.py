"""Asking a QEMU machine's monitor (QMP, over its unix socket) through QEMU's own client library.

Used by the `qemu` power driver (a machine killed with `quit`, then started again by its start command), by
freeze on such a machine (`stop`/`cont`: the whole machine hangs) and by the VM lab (whether a machine runs).
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from qemu.qmp import QMPError
from qemu.qmp.legacy import QEMUMonitorProtocol

log = logging.getLogger(__name__)
# The library logs at ERROR each connection a machine going away refuses; qmp() says what that means itself.
logging.getLogger("qemu.qmp").setLevel(logging.CRITICAL)


class QmpUnanswered(Exception):
    """No machine answers on that socket (it is off, or the path is wrong)."""


def qmp(socket: Path, command: str, timeout: float = 5.0, **args: Any) -> Any:
    """One command's answer ("return"); QmpUnanswered when nothing answers, QMPError for an error answer.

    A `quit` may close the socket before its answer: that is the machine gone, as asked."""
    if not socket.exists():
        raise QmpUnanswered(f"no QMP socket at {socket}")
    monitor = QEMUMonitorProtocol(str(socket))
    try:
        monitor.settimeout(timeout)
        monitor.connect()
    except (OSError, EOFError, QMPError, TimeoutError) as exc:  # EOF: a machine going away as we connect
        _close(monitor)
        raise QmpUnanswered(f"nothing answers on {socket}: {type(exc).__name__}") from exc
    try:
        return monitor.cmd(command, **args)
    except (OSError, EOFError, QMPError) as exc:
        if command == "quit":
            log.debug("quit: the socket closed first (%s)", type(exc).__name__)
            return {}
        raise
    finally:
        _close(monitor)


def _close(monitor: QEMUMonitorProtocol) -> None:
    """Closing a monitor whose machine just quit meets the end of its stream: nothing is left to close."""
    try:
        monitor.close()
    except (OSError, EOFError, QMPError) as exc:
        log.debug("closing the monitor: %s", type(exc).__name__)


def run_state(socket: Path, timeout: float = 5.0) -> str:
    """"running", "paused", ... as QEMU says; "off" when no machine answers."""
    try:
        answer = qmp(socket, "query-status", timeout)
    except QmpUnanswered:
        return "off"
    return str(answer.get("status", "unknown")) if isinstance(answer, dict) else "unknown"


def arm_resume(socket: Path, after: float) -> int:
    """A dead-man on the controller for a machine paused through its monitor (nothing inside a paused machine
    runs, so its own dead-man could not): a process of its own session that resumes the machine `after`
    seconds from now, whatever becomes of the controller. Its pid, to disarm it once the run resumed it."""
    code = ("import sys, time; from pathlib import Path; from pulltheplug.ssh.qmp import qmp; "
            "time.sleep(float(sys.argv[2])); qmp(Path(sys.argv[1]), 'cont')")
    proc = subprocess.Popen([sys.executable, "-c", code, str(socket), f"{after:g}"], start_new_session=True,
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
    return proc.pid


def disarm_resume(pid: int) -> None:
    """End the resume dead-man we started (by its pid), and reap it."""
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGTERM)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
