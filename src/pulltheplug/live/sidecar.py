"""The command's side of the live server: start it (its ports checked before any run), tell it which run
folder to follow, and end it.

The server runs in its own session, so the Ctrl-C meant for the run does not end the page that shows the
run being reverted; it ends when this side closes its stdin (also when this process dies).
"""

from __future__ import annotations

import ipaddress
import json
import logging
import select
import subprocess
import sys
from pathlib import Path
from types import TracebackType

from pulltheplug.errors import SpecError

log = logging.getLogger(__name__)

START_TIMEOUT = 20.0  # seconds for the server to import and bind (a cold Python start on a busy machine)
DEFAULT_LIVE_PORT = 8700


def check_bind(address: str, bind_all: bool) -> str:
    """The address to bind: loopback unless the user said the page may be seen from elsewhere."""
    if bind_all and address in ("127.0.0.1", "localhost"):
        return "0.0.0.0"
    try:
        ip = ipaddress.ip_address("127.0.0.1" if address == "localhost" else address)
    except ValueError as exc:
        raise SpecError(f"--live-bind {address!r} is not an IP address: give one, e.g. 127.0.0.1") from exc
    if not ip.is_loopback and not bind_all:
        raise SpecError(f"--live-bind {address} is not a loopback address: anyone who reaches it sees the run; "
                        "add --bind-all to mean it")
    return str(ip)


class LiveServer:
    """A running `pulltheplug.live.server`; `urls` has "live" and/or "metrics"."""

    def __init__(self, bind: str, live_port: int | None, metrics_port: int | None, debug: bool = False) -> None:
        cmd = [sys.executable, "-m", "pulltheplug.live.server", "--bind", bind]
        if live_port is not None:
            cmd += ["--live-port", str(live_port)]
        if metrics_port is not None:
            cmd += ["--metrics-port", str(metrics_port)]
        if debug:
            cmd.append("--debug")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=None if debug else subprocess.DEVNULL, text=True, start_new_session=True)
        self.urls: dict[str, str] = {}
        try:
            answer = self._first_line()
        except BaseException:
            self.close()
            raise
        if "error" in answer:
            self.close()
            raise SpecError(str(answer["error"]))
        ready = answer["ready"]
        self.urls = {str(k): str(v) for k, v in ready.items()} if isinstance(ready, dict) else {}

    def _first_line(self) -> dict[str, object]:
        assert self.proc.stdout is not None
        ready, _, _ = select.select([self.proc.stdout], [], [], START_TIMEOUT)
        line = self.proc.stdout.readline() if ready else ""
        if not line:
            raise SpecError(f"the live server did not start within {START_TIMEOUT:.0f}s: run with --debug to see why")
        answer: dict[str, object] = json.loads(line)
        return answer

    def _send(self, cmd: dict[str, object]) -> None:
        if self.proc.stdin is None or self.proc.poll() is not None:
            log.warning("the live server ended early (exit %s): the run goes on without it", self.proc.returncode)
            return
        try:
            self.proc.stdin.write(json.dumps(cmd) + "\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            log.warning("the live server went away: the run goes on without it")

    def follow(self, folder: Path, title: str = "") -> None:
        self._send({"follow": str(folder.resolve()), "title": title})

    def done(self, report: Path | None, status: str) -> None:
        self._send({"done": {"report": str(report.resolve()) if report else None, "status": status}})

    def close(self) -> None:
        if self.proc.stdin is not None and not self.proc.stdin.closed:
            try:
                self.proc.stdin.close()
            except BrokenPipeError:
                log.debug("the live server was gone already")
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()

    def __enter__(self) -> LiveServer:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()
