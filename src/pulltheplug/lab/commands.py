"""Running the host's tools (ip, nsenter, umount) with errors that say what failed."""

from __future__ import annotations

import subprocess

from pulltheplug.errors import LabError


def run(*args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, check=False)
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise LabError(f"`{' '.join(args)}` failed: {detail[-1] if detail else proc.returncode}")
    return proc
