"""Asking a QEMU machine's monitor (QMP, over its unix socket) through QEMU's own client library.

Used by the `qemu` power driver (a machine killed with `quit`, then started again by its start command) and by
the VM lab (whether a machine runs, freeze as `stop`/`cont`).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from qemu.qmp import QMPError
from qemu.qmp.legacy import QEMUMonitorProtocol

log = logging.getLogger(__name__)


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
