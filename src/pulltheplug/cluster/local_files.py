"""Node files on the controller's own disk: what a lab node's services read and write (lab nodes share the
controller's filesystem)."""

from __future__ import annotations

import shutil
from pathlib import Path


class LocalFiles:
    """`NodeFiles` in a folder of this machine (made 0700: keepalived's script security wants root-only)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder
        self.folder = str(folder)

    def write(self, name: str, text: str, mode: int = 0o600) -> None:
        """Into the folder, made (0700) first if it is not there, or no longer (after `remove`)."""
        self.path.mkdir(parents=True, exist_ok=True)
        self.path.chmod(0o700)
        target = self.path / name
        target.write_text(text)
        target.chmod(mode)

    def read(self, name: str) -> str | None:
        try:
            return (self.path / name).read_text()
        except FileNotFoundError:
            return None

    def remove(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
