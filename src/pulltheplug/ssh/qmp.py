"""Asking a QEMU machine's monitor (QMP, over its unix socket) through QEMU's own client library.

Used by the `qemu` power driver (a machine killed with `quit`, then started again by its start command), by
freeze on such a machine (`stop`/`cont`: the whole machine hangs) and by the VM lab (whether a machine runs).

Every ask is bounded: the connection and the greeting included (QEMU's monitor serves one client at a time, so
a second client would otherwise wait for ever). It runs on a thread and loop of its own, so callers on a thread
with a running event loop can ask too.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import logging
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from qemu.qmp import ConnectError, QMPClient, QMPError

from pulltheplug.errors import FaultError

log = logging.getLogger(__name__)
# The library logs at ERROR each connection a machine going away refuses; qmp() says what that means itself.
logging.getLogger("qemu.qmp").setLevel(logging.CRITICAL)


class QmpError(FaultError):
    """The monitor did not answer in time, or answered an error: the machine's state is not known."""


class QmpUnanswered(QmpError):
    """No machine listens on that socket (it is off, or the path is wrong)."""


def qmp(socket: Path, command: str, timeout: float = 5.0, **args: Any) -> Any:
    """One command's answer ("return"). QmpUnanswered: nothing listens (no socket, refused, reset at the
    greeting: a machine going away); QmpError: no answer within `timeout`, or an error answer. A `quit` whose
    socket closes before its answer is the machine gone, as asked."""
    if not socket.exists():
        raise QmpUnanswered(f"no QMP socket at {socket}")
    with concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="qmp") as pool:
        future = pool.submit(asyncio.run, _ask(socket, command, args, timeout))
        try:
            return future.result(2 * timeout + 1)
        except concurrent.futures.TimeoutError:
            raise QmpError(f"{socket}: no answer to {command} within {timeout:g} s") from None


async def _ask(socket: Path, command: str, args: dict[str, Any], timeout: float) -> Any:
    client = QMPClient()
    try:
        try:
            await asyncio.wait_for(client.connect(str(socket)), timeout)
        except TimeoutError:  # before OSError, whose subclass it is
            raise QmpError(f"{socket}: the monitor did not greet within {timeout:g} s (another client holds it?)") \
                from None
        except (ConnectError, OSError, EOFError) as exc:
            cause = exc.exc if isinstance(exc, ConnectError) else exc
            if isinstance(cause, BlockingIOError):  # a listener whose queue is full: another client holds it
                raise QmpError(f"{socket}: the monitor is busy with another client") from None
            # refused (a socket left by a killed QEMU), missing, or reset at the greeting (a machine going away)
            raise QmpUnanswered(f"nothing answers on {socket}: {type(cause).__name__}") from None
        try:
            return await asyncio.wait_for(client.execute(command, args or None), timeout)
        except (QMPError, OSError, EOFError, TimeoutError) as exc:
            if command == "quit":
                log.debug("quit: the socket closed first (%s)", type(exc).__name__)
                return {}
            raise QmpError(f"{socket}: {command} failed: {type(exc).__name__}: {exc}") from None
    finally:
        with contextlib.suppress(QMPError, OSError, EOFError):
            await client.disconnect()


def run_state(socket: Path, timeout: float = 5.0) -> str:
    """"running", "paused", ... as QEMU says; "off" when no machine listens; "unknown" when its monitor does not
    answer in time."""
    try:
        answer = qmp(socket, "query-status", timeout)
    except QmpUnanswered:
        return "off"
    except QmpError as exc:
        log.debug("%s", exc)
        return "unknown"
    return str(answer.get("status", "unknown")) if isinstance(answer, dict) else "unknown"


class ResumeDeadman:
    """A dead-man on the controller for a machine paused through its monitor (nothing inside a paused machine
    runs, so its own dead-man could not): a process of its own session that resumes the machine `after` seconds
    from now, whatever becomes of the controller. Armed once it said so; disarmed by ending it."""

    CODE = ("import sys, time; from pathlib import Path; from pulltheplug.ssh.qmp import qmp; "
            "print('armed', flush=True); time.sleep(float(sys.argv[2])); qmp(Path(sys.argv[1]), 'cont')")

    def __init__(self, socket: Path, after: float, timeout: float = 15.0) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-c", self.CODE, str(socket), f"{after:g}"], start_new_session=True,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])})
        assert self.proc.stdout is not None
        with concurrent.futures.ThreadPoolExecutor(max_workers=1) as pool:
            said = pool.submit(self.proc.stdout.readline)
            try:
                armed = said.result(timeout).strip() == "armed"
            except concurrent.futures.TimeoutError:
                armed = False
        if not armed:
            self.disarm()
            raise FaultError(f"the resume dead-man for {socket} did not start: nothing injected")

    def disarm(self) -> None:
        """End it (we hold its Popen: no pid reused by another process is ever signalled)."""
        if self.proc.poll() is None:
            self.proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.proc.wait(5)
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self.proc.stdout is not None:
            self.proc.stdout.close()
