"""Killing a node's cgroup does not depend on the freezer: a stalled freeze still ends in an empty cgroup."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from pulltheplug.errors import LabError
from pulltheplug.lab import cgroups

pytestmark = pytest.mark.lab  # real cgroups: root
REL = "pulltheplug-test/killall"


@pytest.fixture
def crowded() -> Iterator[list[int]]:
    """A cgroup of our own holding a shell and its children (each `sleep` forks from the shell)."""
    cgroups.create(REL)
    joins = " && ".join(f"echo $$ > {d / 'cgroup.procs'}" for d in cgroups.dirs(REL))
    proc = subprocess.Popen(["sh", "-c", f"{joins} && (sleep 300 & sleep 300 & sleep 300 & wait)"])
    try:
        for _ in range(100):
            if len(cgroups.pids(REL)) >= 4:
                break
            subprocess.run(["sleep", "0.05"], check=True)
        yield cgroups.pids(REL)
    finally:
        cgroups.kill_all(REL)
        proc.wait(timeout=5)
        cgroups.remove("pulltheplug-test")


def test_kill_all_without_a_working_freezer(crowded: list[int], monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(crowded) >= 4

    def stalled(rel: str, frozen: bool, timeout: float = 5.0) -> None:
        if frozen:
            raise LabError(f"cgroup {rel} did not freeze within {timeout:.0f}s")

    monkeypatch.setattr(cgroups, "set_frozen", stalled)
    killed = cgroups.kill_all(REL)
    assert killed == len(crowded)
    assert cgroups.pids(REL) == []
    # and each process has exited: reaped (ours) or at least no longer running
    alive = [p for p in crowded if Path(f"/proc/{p}").exists() and "Z" not in _state(p)]
    assert alive == []
    assert not cgroups.is_frozen(REL)


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"


def test_kill_all_of_an_empty_or_missing_cgroup() -> None:
    assert cgroups.kill_all("pulltheplug-test/none") == 0
    assert os.geteuid() == 0
