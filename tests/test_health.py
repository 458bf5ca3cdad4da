"""Waiting for a whole cluster before a run: how long it took, or a refusal naming what is missing."""

from __future__ import annotations

import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pulltheplug.cli.app import app
from pulltheplug.cluster.seam import NodeStatus, all_whole, gaps
from pulltheplug.errors import ClusterError
from pulltheplug.lab import lab as labmod
from pulltheplug.swarm.health import require_whole

LEADER = NodeStatus(name="node1", role="manager", address="10.0.0.2", state="ready", availability="active",
                    manager="leader", daemon=True)
WHOLE = [LEADER, replace(LEADER, name="node2", manager="reachable"), replace(LEADER, name="node3", role="worker",
                                                                               manager="")]
BROKEN = [LEADER, replace(LEADER, name="node2", manager="unreachable"),
          replace(LEADER, name="node3", role="worker", manager="", state="down"),
          replace(LEADER, name="node4", role="worker", manager="", daemon=False, state="unknown")]


class Healing:
    """A cluster that reads BROKEN `broken` times, then WHOLE."""

    name = "ptpt"

    def __init__(self, broken: int) -> None:
        self.broken = broken
        self.reads = 0

    def status(self) -> list[NodeStatus]:
        self.reads += 1
        return BROKEN if self.reads <= self.broken else WHOLE

    def is_whole(self) -> bool:
        return all_whole(self.status())


def test_gaps_name_each_node_that_keeps_the_cluster_from_whole() -> None:
    assert gaps(WHOLE) == [] and all_whole(WHOLE)
    assert gaps(BROKEN) == ["node2 unreachable", "node3 down", "node4: engine not running"]
    assert not all_whole(BROKEN)


def test_a_cluster_that_heals_in_time_is_waited_for() -> None:
    cluster: Any = Healing(broken=2)
    waited = require_whole(cluster, 10.0)
    assert cluster.reads == 3 and 1.5 < waited < 5  # one second between reads


def test_a_cluster_not_whole_in_time_is_refused_naming_what_is_missing() -> None:
    cluster: Any = Healing(broken=100)
    started = time.monotonic()
    with pytest.raises(ClusterError) as caught:
        require_whole(cluster, 1.5)
    assert time.monotonic() - started < 4
    assert str(caught.value).startswith("cluster ptpt is not whole after 1.5s (node2 unreachable; node3 down; "
                                        "node4: engine not running): heal it first")


def test_run_wait_whole_refuses_before_anything_is_made(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cluster = Healing(broken=100)
    monkeypatch.setattr(labmod, "require_up", lambda name: cluster)
    result = CliRunner().invoke(app, ["run", "--wait-whole", "1s", "--fault", "none", "--runs-dir",
                                      str(tmp_path / "runs")])
    assert isinstance(result.exception, ClusterError)  # the CLI turns it into one line and exit 2
    assert str(result.exception).startswith("cluster ptpt is not whole after 1s (node2 unreachable; node3 down; "
                                            "node4: engine not running)")
    assert cluster.reads >= 2 and not (tmp_path / "runs").exists()  # it waited; nothing was made


class Stop(Exception):
    """Raised where a run goes on past its wait: what follows needs a real swarm."""


class HealingThenStop(Healing):
    def nodes(self) -> list[object]:
        raise Stop


def test_a_run_waits_for_a_whole_cluster_unless_told_not_to() -> None:
    """By default a run first waits for the cluster (back-to-back runs measure their own fault); 0 never reads it."""
    from pulltheplug.run.preparation import prepare
    from pulltheplug.spec import ExperimentSpec

    assert ExperimentSpec().phases.wait_whole == 60.0
    healing: Any = HealingThenStop(broken=1)
    with pytest.raises(Stop):
        prepare(ExperimentSpec(), healing)
    assert healing.reads == 2  # read broken, waited a second, read whole
    at_once: Any = HealingThenStop(broken=100)
    with pytest.raises(Stop):
        prepare(ExperimentSpec.model_validate({"phases": {"wait_whole": 0}}), at_once)
    assert at_once.reads == 0
