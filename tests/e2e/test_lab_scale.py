"""A 20-node lab, up and down several times in a row: every up converges, every down leaves nothing."""

from __future__ import annotations

import pytest

from pulltheplug.lab import lab as labmod
from tests.e2e.snapshot import host_snapshot

pytestmark = pytest.mark.lab
NAME = "ptpbig"


@pytest.mark.parametrize("managers", [5, 3, 5])
def test_twenty_nodes_up_and_down(managers: int) -> None:
    before = host_snapshot(NAME)
    labmod.down(NAME)  # a previous run killed hard may have left it
    try:
        made = labmod.up(NAME, nodes=20, managers=managers)
        rows = made.status()
        assert len(rows) == 20
        assert all(r.state == "ready" and r.daemon for r in rows), [r for r in rows if r.state != "ready"]
        assert sum(r.manager in ("leader", "reachable") for r in rows) == managers
    finally:
        assert labmod.down(NAME)
    # down returns only once every process of the lab has exited: no dockerd, containerd or zombie left
    assert host_snapshot(NAME) == before
