"""The controller as the edge of a real cluster: a front door (HAProxy) runs here, on loopback, in front of
your hosts, as a load balancer in front of a Pi cluster would; the load reaches it on 127.0.0.1."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path


class ControllerEdge:
    address = "127.0.0.1"

    def __init__(self) -> None:
        self.folder = Path(tempfile.mkdtemp(prefix="pulltheplug-edge-"))
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    def start(self, name: str, argv: Sequence[str]) -> int:
        with open(self.folder / f"{name}.log", "ab") as out:
            proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self._procs[name] = proc
        return proc.pid

    def running(self, name: str) -> bool:
        proc = self._procs.get(name)
        return proc is not None and proc.poll() is None

    def stop(self, name: str, timeout: float = 5.0) -> None:
        proc = self._procs.pop(name, None)
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout)

    def close(self) -> list[str]:
        done = [f"{name} stopped" for name in self._procs]
        for name in list(self._procs):
            self.stop(name)
        shutil.rmtree(self.folder, ignore_errors=True)
        return done
