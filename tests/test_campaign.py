"""The campaign runner's broad excepts say what they caught; a programming error is never "lab not whole"."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from pulltheplug.cluster.seam import NodeStatus, all_whole
from pulltheplug.errors import ClusterError, SpecError
from pulltheplug.records.campaign_index import read_index
from pulltheplug.run import campaign, experiment
from pulltheplug.run.campaign import run_campaign
from pulltheplug.run.events import RunEvents
from pulltheplug.spec import CampaignSpec, ClusterSpec, ExperimentSpec
from pulltheplug.swarm.health import wait_whole

WHOLE = [NodeStatus(name="node1", role="manager", address="10.0.0.2", state="ready", availability="active",
                    manager="leader", daemon=True)]


class FakeCluster:
    """`is_whole()` answers from a script of status rows, or an exception to raise."""

    name = "ptpt"

    def __init__(self, *answers: list[NodeStatus] | Exception) -> None:
        self.answers = list(answers)

    def is_whole(self) -> bool:
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, Exception):
            raise answer
        return all_whole(answer)


class Notes(RunEvents):
    def __init__(self, into: list[str]) -> None:
        self.into = into

    def noted(self, message: str) -> None:
        self.into.append(message)


def test_a_swarm_that_answers_oddly_is_waited_for_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    lab: Any = FakeCluster(ClusterError("no manager of lab answers"), WHOLE)
    with caplog.at_level(logging.DEBUG, logger="pulltheplug"):
        assert wait_whole(lab, timeout=5.0)
    (record,) = [r for r in caplog.records if r.name == "pulltheplug.swarm.health"]
    assert "no manager of lab answers" in record.getMessage()


def test_a_programming_error_is_not_read_as_lab_not_whole() -> None:
    lab: Any = FakeCluster(TypeError("'NoneType' object is not subscriptable"))
    with pytest.raises(TypeError):
        wait_whole(lab, timeout=0.5)


@pytest.mark.parametrize(("error", "level"), [(ClusterError("node3 never came back"), logging.DEBUG),
                                              (AttributeError("'Meta' object has no attribute 'fualt'"),
                                               logging.ERROR)])
def test_a_failed_run_is_logged_with_its_traceback(error: Exception, level: int, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch,
                                                   caplog: pytest.LogCaptureFixture) -> None:
    """A cluster's failure is a result (debug); anything else is a bug in pulltheplug, shown as an error."""
    def execute(*args: object, **kwargs: object) -> Path:
        raise error

    monkeypatch.setattr(experiment, "execute", execute)
    spec = CampaignSpec(name="one", base=ExperimentSpec(cluster=ClusterSpec(lab="ptpt")), faults=["nic-down"],
                        targets=["leader"], repetitions=1)
    notes: list[str] = []
    with caplog.at_level(logging.DEBUG, logger="pulltheplug"):
        cluster: Any = FakeCluster(WHOLE)
        folder = run_campaign(spec, cluster, tmp_path, Notes(notes))
    assert [e.status for e in read_index(folder)] == ["failed"]
    assert notes == [f"run 1 failed: {error}"]
    (record,) = [r for r in caplog.records if r.name == campaign.__name__]
    assert record.levelno == level and record.exc_info is not None and record.exc_info[1] is error


def test_doors_multiply_the_plan_and_each_run_goes_through_its_door() -> None:
    from pulltheplug.spec.campaign_plan import demo_spec, plan_runs, run_spec

    spec = demo_spec(quick=True)
    plan = plan_runs(spec)
    assert [(r.fault, r.target, r.door) for r in plan] == [("nic-down", "door", d) for d in ("nodes", "haproxy", "vip")]
    assert [r.scenario for r in plan] == [f"nic-down@door via {d}" for d in ("nodes", "haproxy", "vip")]
    specs = [run_spec(spec, r) for r in plan]
    assert [s.workload.entry.kind for s in specs] == ["nodes", "haproxy", "vip"]
    assert specs[1].workload.entry.haproxy.inter == 1.0 and specs[1].name == "002-nic-down-door-haproxy-r1"
    assert len(plan_runs(demo_spec(quick=False))) == 9
    one_door = spec.model_copy(update={"doors": ["nodes"]})
    assert [r.scenario for r in plan_runs(one_door)] == ["nic-down@door"]  # as before doors existed


def test_an_index_line_written_before_doors_reads_as_straight_to_the_nodes() -> None:
    from pulltheplug.records.campaign_index import CampaignEntry

    old = {"number": 1, "scenario": "nic-down@leader", "fault": "nic-down", "target": "leader", "repetition": 1,
           "folder": "x", "status": "complete", "converged": True, "rebuilt_before": False}
    assert CampaignEntry(**old).door == "nodes"  # type: ignore[arg-type]


class EngineLab:
    """A lab as a campaign of engines sees it: whole, its nodes' release, and the rebuilds asked of it."""

    name, kind = "ptpt", "lab"

    def __init__(self, engine: str) -> None:
        self.engine = engine
        self.rebuilds: list[str | None] = []

    def is_whole(self) -> bool:
        return True

    def describe(self) -> dict[str, object]:
        return {"nodes": [{"name": "node1", "engine": self.engine}, {"name": "node2", "engine": self.engine}]}

    def rebuild(self, engine: str | None = None) -> None:
        self.rebuilds.append(engine)
        self.engine = engine or self.engine


def test_a_campaign_of_engines_rebuilds_the_lab_once_per_engine_it_does_not_run(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[tuple[str, str]] = []

    def execute(spec: ExperimentSpec, text: str, cluster: Any, runs_dir: Path, events: Any) -> Path:
        ran.append((spec.name, cluster.engine))
        raise ClusterError("not measured here")

    monkeypatch.setattr(experiment, "execute", execute)
    spec = CampaignSpec(name="eng", faults=["nic-down"], targets=["leader"], repetitions=2,
                        engines=["bookworm", "trixie"])
    lab: Any = EngineLab("bookworm")
    folder = run_campaign(spec, lab, tmp_path, Notes([]))
    assert lab.rebuilds == ["trixie"]  # already on bookworm: no rebuild for it
    assert [engine for _, engine in ran] == ["bookworm", "bookworm", "trixie", "trixie"]
    assert [(e.engine, e.rebuilt_before) for e in read_index(folder)] == [
        ("bookworm", False), ("bookworm", False), ("trixie", True), ("trixie", False)]


def test_a_campaign_of_engines_on_hosts_is_refused_before_it_starts(tmp_path: Path) -> None:
    hosts: Any = EngineLab("bookworm")
    hosts.kind = "ssh"
    spec = CampaignSpec(name="eng", faults=["nic-down"], targets=["leader"], engines=["trixie"])
    with pytest.raises(SpecError, match="only a lab's engines can be chosen"):
        run_campaign(spec, hosts, tmp_path)
    assert list(tmp_path.iterdir()) == []  # nothing half made
