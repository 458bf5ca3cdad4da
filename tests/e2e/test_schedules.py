"""Schedules of faults on the real lab: each fault an interval of the history, held against eth0 as the test
polled it; outages attributed to the fault they overlap; each fault's own detect and recover held against the
test's own `docker node ls` (the witness); a random schedule repeats from its seed."""

from __future__ import annotations

import logging
import threading
import time
from pathlib import Path

import pytest

from pulltheplug.analysis import summarize
from pulltheplug.lab import lab as labmod
from pulltheplug.records.folder import load_run
from pulltheplug.report.html import render_html
from pulltheplug.run import experiment, schedule
from pulltheplug.spec import RandomScheduleSpec, parse_spec
from pulltheplug.swarm.health import wait_whole
from tests.e2e.witness import Witness

pytestmark = pytest.mark.lab

log = logging.getLogger(__name__)

TWO = """
name: e2e-two-faults
cluster: {lab: ptpt}
workload: {service: e2e-sched, port: 8097, replicas: 4, max_replicas_per_node: 1, remove_after: true}
load: {rate: 50, timeout: 500ms}
swarm: {dispatcher_heartbeat: 1s}
schedule:
  - {kind: nic-down, target: node4, at: 0s, duration: 8s}
  - {kind: nic-down, target: follower, at: 3s, duration: 8s}
phases: {steady: 2s, settle: 2s, timeout: 120s}
"""
# The lab has one worker (node4), so the second fault cuts a manager that is not the leader: a majority keeps
# its leader, whose view says when each node is lost. A 1 s heartbeat marks a node Down after ~3-4 s, so each
# 8 s fault is seen during its span (at the default 5 s that takes ~20 s).
CLUSTER = 1.0  # s: a figure vs the witness's reading (it asks every manager every 0.5 s, the observer 0.25 s)


def _poll_links(lab: labmod.Lab, nodes: list[str], stop: threading.Event) -> dict[str, list[tuple[float, bool]]]:
    seen: dict[str, list[tuple[float, bool]]] = {n: [] for n in nodes}

    def poll() -> None:
        while not stop.is_set():
            for n in nodes:
                seen[n].append((time.monotonic(), lab.nic_is_up(n)))
            stop.wait(0.05)

    threading.Thread(target=poll, daemon=True).start()
    return seen


def test_a_worker_down_then_a_manager_down_before_it_is_back(lab: labmod.Lab, tmp_path: Path) -> None:
    stop = threading.Event()
    seen = _poll_links(lab, [n.name for n in lab.plan.nodes], stop)
    try:
        with Witness(lab) as witness:
            folder = experiment.execute(parse_spec(TWO), TWO, lab, tmp_path)
    finally:
        stop.set()
    run = load_run(folder)
    s = summarize(run)
    assert s.status == "complete" and s.phases.converged is not None
    follower = s.faults[1].node
    assert follower in {n.name for n in lab.plan.managers} and follower != run.meta.cluster["leader_at_start"]
    assert s.fault.kind == "schedule" and [(f.kind, f.node) for f in s.faults] == [("nic-down", "node4"),
                                                                                  ("nic-down", follower)]
    first, second = s.faults
    assert second.start - first.start == pytest.approx(3.0, abs=0.3)  # its offset from the first
    assert second.start < first.end  # they overlapped
    t0 = run.meta.t0_monotonic
    for f in s.faults:  # each interval is when the test saw that node's eth0 down (+- one poll and the confirm)
        down = [t - t0 for t, up in seen[f.node] if not up]
        assert down, f
        assert abs(min(down) - f.start) <= 0.3 and abs(max(down) - f.end) <= 0.3, (f, min(down), max(down))
    # users' outages on each node's entry belong to that node's fault (one task per node: each is an entry)
    assert {"node3", "node4"} <= set(run.meta.entries)
    assert any(o[0] == "node4" for o in first.outages) and all(o[0] != "node4" or o[1] < second.start + 3
                                                               for o in first.outages)
    assert any(o[0] == follower for o in second.outages)
    # each fault's own figures, against the majority's `docker node ls` as the test asked it
    managers = len(lab.plan.managers)
    for f in s.faults:
        assert f.detect is not None and f.recover is not None and f.revert is not None, f
        lost = witness.first_majority_status(f.node, managers, f.start, t0, {"Down", "Disconnected"})
        assert lost is not None and lost < f.revert, (f, lost)
        assert f.detect.node_lost_after_fault_start is not None, f
        assert abs(f.start + f.detect.node_lost_after_fault_start - lost) <= CLUSTER, (f, lost)
        ready = witness.first_majority_status(f.node, managers, f.revert, t0, {"Ready"})
        assert ready is not None and f.recover.node_ready_after_revert is not None, (f, ready)
        assert abs(f.revert + f.recover.node_ready_after_revert - ready) <= CLUSTER, (f, ready)
        log.info(f"fault #{f.id + 1} {f.kind} on {f.node}: lost {f.detect.node_lost_after_fault_start:.2f}s after "
              f"start (witness {lost - f.start:.2f}s), Ready {f.recover.node_ready_after_revert:.2f}s after revert "
              f"(witness {ready - f.revert:.2f}s)")
    assert all(lab.nic_is_up(n) for n in ("node4", follower)) and lab.active_fault() is None
    report = render_html(run, s, [])
    assert 'id="fault-intervals"' in report and f"#2 nic-down on {follower}" in report


RANDOM = """
name: e2e-random
cluster: {lab: ptpt}
workload: {service: e2e-probe, port: 8090}
load: {rate: 30, timeout: 500ms}
random_schedule: {length: 14s, mean_interval: 4s, kinds: [nic-down, loss], targets: [node4, node3], duration: 2s,
                  seed: 5}
phases: {steady: 1s, settle: 2s, timeout: 120s}
"""


def test_a_random_schedule_runs_what_its_seed_draws(lab: labmod.Lab, tmp_path: Path) -> None:
    spec = parse_spec(RANDOM)
    folder = experiment.execute(spec, RANDOM, lab, tmp_path)
    run = load_run(folder)
    s = summarize(run)
    assert s.status == "complete" and s.phases.converged is not None
    assert spec.random_schedule is not None
    drawn = schedule.draw(RandomScheduleSpec(**spec.random_schedule.model_dump()), 5)
    kept = schedule.drop_clashing([schedule.Slot(i, f.kind, f.at, f.duration, (f.target,))
                                   for i, f in enumerate(drawn)])
    expected = [(drawn[k.id].kind, drawn[k.id].target, drawn[k.id].at) for k in kept]
    recorded = run.meta.fault["schedule"]
    assert run.meta.fault["random"]["seed"] == 5 and len(expected) >= 2
    assert [(f["kind"], f["node"], f["at"]) for f in recorded] == expected
    # each ran at its offset from the first fault phase's start (+- the inject's own time)
    start = s.faults[0].start - recorded[0]["at"]
    assert [(f.kind, f.node) for f in s.faults] == [(k, n) for k, n, _ in expected]
    for f, (_, _, at) in zip(s.faults, expected, strict=True):
        assert f.start - start == pytest.approx(at, abs=0.5)
        assert f.end - f.start == pytest.approx(2.0, abs=0.5)
    # nothing left in place, and the lab whole again: a manager back from a fault can take a few seconds more
    # than the run's convergence (Ready, replicas, requests) to be reachable with an agreed leader
    assert lab.active_fault() is None and wait_whole(lab, 60.0)
