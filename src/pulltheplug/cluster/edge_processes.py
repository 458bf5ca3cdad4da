"""The processes a front door's edge runs (HAProxy): started with their output in the edge's folder, stopped
by their own pid (SIGTERM, then SIGKILL), never by name. Each backend's edge says how a process enters it."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Sequence
from pathlib import Path


class EdgeProcesses:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    def wrap(self, argv: Sequence[str]) -> list[str]:
        """How a command enters the edge (here: as it is, on the controller)."""
        return list(argv)

    def start(self, name: str, argv: Sequence[str]) -> int:
        with open(self.folder / f"{name}.log", "ab") as out:
            proc = subprocess.Popen(self.wrap(argv), stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
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
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout)

    def stop_all(self) -> list[str]:
        done = [f"{name} stopped" for name in list(self._procs)]
        for name in list(self._procs):
            self.stop(name)
        return done
