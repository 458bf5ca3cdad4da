"""Swarm settings as a run's parameter, on the real lab: applied, recorded, felt, and restored."""

from __future__ import annotations

import contextlib
import json
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from pulltheplug.analysis import summarize
from pulltheplug.cluster.seam import DEADMAN_MARGIN
from pulltheplug.lab import cgroups, deadman
from pulltheplug.lab import lab as labmod
from pulltheplug.records.folder import load_run
from pulltheplug.run import experiment
from pulltheplug.spec import parse_spec
from pulltheplug.swarm import settings as swarm_settings
from pulltheplug.swarm.api import answering_manager

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


CLI = [sys.executable, "-m", "pulltheplug"]
CUT_WITH_HEARTBEAT = """
cluster: {{lab: ptpt}}
workload: {{service: e2e-probe, port: 8090}}
load: {{rate: 20, timeout: 500ms}}
swarm: {{dispatcher_heartbeat: 1s}}
fault: {{kind: {kind}, target: node4, duration: {duration}}}
phases: {{steady: 1s, settle: 2s, timeout: 60s}}
"""


def _start_run(tmp_path: Path, name: str, kind: str, duration: str) -> subprocess.Popen[str]:
    spec = tmp_path / "spec.yaml"
    spec.write_text(CUT_WITH_HEARTBEAT.format(kind=kind, duration=duration))
    return subprocess.Popen([*CLI, "run", "--runs-dir", str(tmp_path), "--name", name, str(spec)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_injected(tmp_path: Path, name: str, timeout: float = 60.0) -> float:
    """When the run's events said its fault was injected (monotonic); fails the test if they never did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for f in tmp_path.glob(f"*-{name}/events.jsonl"):
            with contextlib.suppress(ValueError):
                if any(json.loads(x).get("action") == "injected" for x in f.read_text().splitlines() if x.strip()):
                    return time.monotonic()
        time.sleep(0.1)
    raise AssertionError("the fault was never injected")


def _poll(done: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def _leave_whole(lab: labmod.Lab, proc: subprocess.Popen[str], before: tuple[int, int]) -> None:
    """Whatever happened: the shared lab healed, its heartbeat as found, no dead-man of these runs left."""
    if proc.poll() is None:
        proc.kill()
        proc.wait(10)
    lab.heal()
    if _heartbeat(lab) != before:
        swarm_settings.put_back(lab, {"dispatcher_heartbeat": before[0] / 1e9}, 60.0)
    for pid in cgroups.pids(deadman.cgroup(lab.plan)):  # started by the run under test: ended by pid
        deadman.disarm(pid)


def test_two_ctrl_c_mid_fault_revert_the_fault_and_put_the_heartbeat_back(lab: labmod.Lab, tmp_path: Path) -> None:
    """A power cut: its revert boots node4's engine, which takes over a second, so the second Ctrl-C (0.2 s after
    the first) lands while the run is still stopping, and must cut nothing short."""
    before = _heartbeat(lab)
    proc = _start_run(tmp_path, "e2e-int2", "power-loss", "60s")
    try:
        _wait_injected(tmp_path, "e2e-int2")
        assert not lab.node_running("node4")
        assert _heartbeat(lab)[0] == 1_000_000_000  # the run's setting is in force mid-fault
        assert lab.noted_settings() == {"dispatcher_heartbeat": before[0] / 1e9}
        proc.send_signal(signal.SIGINT)
        time.sleep(0.2)
        proc.send_signal(signal.SIGINT)  # while the first one's revert runs
        _out, err = proc.communicate(timeout=90)
    finally:
        _leave_whole(lab, proc, before)
    assert proc.returncode == 130, err
    assert "Traceback" not in err
    r = load_run(next(tmp_path.glob("*-e2e-int2")))
    assert r.meta.status == "interrupted", r.meta.error
    assert summarize(r).status == "interrupted"
    assert any(e.type == "fault" and e.data["action"] == "reverted" for e in r.events)
    assert r.events[-1].type == "run" and r.events[-1].data == {"action": "interrupted"}
    assert "SIGINT again" in err  # the second one was said, and cut nothing short
    assert r.meta.cluster["swarm_settings_deadman"]["deadman"] == "lab heal"
    assert lab.node_running("node4")
    assert _heartbeat(lab) == before
    assert lab.noted_settings() is None and lab.active_fault() is None


def test_a_killed_controller_s_heartbeat_is_put_back_by_the_dead_man(lab: labmod.Lab, tmp_path: Path) -> None:
    before = _heartbeat(lab)
    proc = _start_run(tmp_path, "e2e-kill-hb", "nic-down", "3s")
    try:
        injected_at = _wait_injected(tmp_path, "e2e-kill-hb")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert lab.noted_settings() is not None and _heartbeat(lab)[0] == 1_000_000_000
        # the fault's dead-man fires its length plus its margin after it was armed, heals the link, then puts the
        # heartbeat back (and ends the settings' own dead-man, which would fire much later)
        assert _poll(lambda: lab.noted_settings() is None, 3 + DEADMAN_MARGIN + 40), "the dead-man did not heal"
        assert time.monotonic() - injected_at >= 3 + DEADMAN_MARGIN - 1
        assert _heartbeat(lab) == before
        assert lab.nic_is_up("node4") and lab.active_fault() is None
        assert _poll(lambda: not cgroups.pids(deadman.cgroup(lab.plan)), 10.0), "a dead-man was left behind"
    finally:
        _leave_whole(lab, proc, before)
