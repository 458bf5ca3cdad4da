"""Running the host's tools (ip, nsenter, umount) with errors that say what failed."""

from __future__ import annotations

import subprocess

from pulltheplug.errors import LabError


def run(*args: str, check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    try:
        proc = subprocess.run(list(args), capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise LabError(f"{args[0]} is missing: run `pulltheplug doctor`") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"`{' '.join(args)}` did not finish within {timeout:.0f}s") from exc
    if check and proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise LabError(f"`{' '.join(args)}` failed: {detail[-1] if detail else proc.returncode}")
    return proc
