"""Swarm settings as a run's parameter, on the real lab: applied, recorded, felt, and restored."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from pulltheplug import experiment
from pulltheplug.analysis import summarize
from pulltheplug.lab import lab as labmod
from pulltheplug.record import load_run
from pulltheplug.spec import parse_spec
from pulltheplug.swarm_api import answering_manager

pytestmark = pytest.mark.lab

FAST_HEARTBEAT = """
name: e2e-heartbeat
cluster: {lab: ptpt}
workload: {service: e2e-probe, port: 8090}
load: {rate: 20, timeout: 500ms}
swarm: {dispatcher_heartbeat: 1s, task_history_limit: 2}
fault: {kind: nic-down, target: node4, duration: 8s}
phases: {steady: 2s, settle: 2s, timeout: 120s}
"""


def _heartbeat(lab: labmod.Lab) -> tuple[int, int]:
    c, _ = answering_manager(lab)
    with contextlib.closing(c):
        spec = c.api.inspect_swarm()["Spec"]
    return spec["Dispatcher"]["HeartbeatPeriod"], spec["Orchestration"]["TaskHistoryRetentionLimit"]


def test_a_faster_heartbeat_marks_the_cut_worker_down_sooner_and_is_restored(lab: labmod.Lab,
                                                                             tmp_path: Path) -> None:
    before = _heartbeat(lab)
    folder = experiment.execute(parse_spec(FAST_HEARTBEAT), FAST_HEARTBEAT, lab, tmp_path)
    run = load_run(folder)
    s = summarize(run)
    assert s.status == "complete"
    assert run.meta.cluster["swarm_settings"] == {
        "dispatcher_heartbeat": {"before": before[0] / 1e9, "run": 1.0},
        "task_history_limit": {"before": before[1], "run": 2}}
    assert _heartbeat(lab) == before  # restored
    # a node is Down after about 3 missed heartbeats: 1 s apart here (5 s by default, so 15 s or more)
    lost = s.detect.node_lost_after_fault_start
    assert lost is not None and lost < 7.0, s.detect
