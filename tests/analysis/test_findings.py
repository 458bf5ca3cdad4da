"""Each finding rule on synthetic histories: found just past its edge, not found just inside it, unknown where
the records cannot tell."""

from __future__ import annotations

from typing import Any

import pytest

from pulltheplug.analysis.control_plane import ControlPlaneWindow
from pulltheplug.analysis.findings import (
    RULES,
    History,
    aftershock,
    collateral,
    findings,
    flapping,
    never_detected,
    not_restored,
    slow_detection,
    slow_recovery,
    split_view,
    unsound,
)
from pulltheplug.analysis.outages import OutageWindow
from pulltheplug.analysis.timings import Detection, Recovery
from pulltheplug.records.events import Event, event, numbered
from pulltheplug.records.model import Meta

NODES = ["node1", "node2", "node3"]
FAULT, REVERT, END = 10.0, 30.0, 60.0


def meta(kind: str = "nic-down", node: str | None = "node3", heartbeat: float | None = None,
         entries: list[str] | None = None, replicas: int = 3) -> Meta:
    cluster: dict[str, Any] = {"nodes": [{"name": n, "role": "manager"} for n in NODES]}
    if heartbeat is not None:
        cluster["swarm_settings"] = {"dispatcher_heartbeat": heartbeat}
    return Meta(name="t", started_at="2026-01-01T00:00:00+00:00", t0_monotonic=0.0, status="complete",
                cluster=cluster, entries={e: f"http://{e}/" for e in (entries or NODES)},
                fault={"kind": kind, "node": node}, workload={"replicas": replicas})


def window(entry: str, start: float, end: float, first_k: int = 100, last_k: int = 200) -> OutageWindow:
    return OutageWindow(entry, start, end, end - start, last_k - first_k + 1, first_k, last_k, {"refused": 1}, False)


def history(m: Meta | None = None, events: list[Event] | None = None, outages: list[OutageWindow] | None = None,
            planes: list[ControlPlaneWindow] | None = None, lost: float | None = 6.0, ready: float | None = 3.0,
            revert: float | None = REVERT, warnings: list[str] | None = None,
            answered: dict[int, float] | None = None) -> History:
    """`answered` None: every outage window's entry had answered again before it."""
    windows = outages or []
    back = answered if answered is not None else {i: w.start - 1.0 for i, w in enumerate(windows)}
    return History(m or meta(), numbered(events or []), FAULT, revert, END, windows, planes or [],
                   Detection(lost, None),
                   Recovery(ready, None, True, 5.0), warnings or [], back)


def node(t: float, name: str, state: str) -> Event:
    return event(t, "node", {"node": name, "state": state})


def task(t: float, tid: str, on: str, state: str, desired: str = "running") -> Event:
    return event(t, "task", {"task": tid, "node": on, "state": state, "desired": desired})


def test_aftershock_is_what_starts_after_the_revert_and_only_that() -> None:
    during = window("node3", FAULT + 0.5, REVERT + 0.2)  # began before the revert: the fault's own outage
    assert aftershock(history(outages=[during])).verdict == "not found"
    after = window("node1", REVERT + 0.1, REVERT + 2.0, 5000, 5100)
    f = aftershock(history(outages=[during, after]))
    assert f.found and f.start == after.start and f.requests == [[5000, 5100]] and "0.1 s after" in f.text
    plane = ControlPlaneWindow(REVERT + 1.0, REVERT + 2.0, 1.0, "node1", "x", False)
    assert aftershock(history(planes=[plane])).found
    assert aftershock(history(revert=None)).verdict == "unknown"
    # an entry that had not answered since its last window: the same outage, split by answers that came late
    assert aftershock(history(outages=[during, after], answered={})).verdict == "not found"


@pytest.mark.parametrize(("late", "found"), [(True, False), (False, True)])
def test_an_outage_is_new_only_once_its_entry_has_answered_again(late: bool, found: bool) -> None:
    """node3 refuses until 20.5 s (the revert at 20 s), then its restarting task holds the connections of the
    requests due until 21 s and answers them at 21.6 s, and those due until 21.5 s time out: one outage as
    users felt it, in two windows. Answered at once instead, the second window is a new outage."""
    import dataclasses

    from pulltheplug.analysis.summary import summarize
    from tests.analysis.history import failing, run, stream

    fail = failing("node3", 10.0, 20.5)
    records = stream(100.0, 30.0, fail=lambda e, due: fail(e, due) or (
        "timeout" if e == "node3" and 21.0 <= due < 21.5 else None))
    if late:
        records = [dataclasses.replace(r, end=21.6) if r.target == "node3" and 20.5 <= r.due < 21.0 else r
                   for r in records]
    s = summarize(run(records, [event(10.0, "fault", {"action": "inject", "node": "node3"})]))
    assert [(w.entry, round(w.start, 2)) for w in s.outages] == [("node3", 10.01), ("node3", 21.02)]
    (shock,) = [f for f in s.findings if f.rule == "aftershock"]
    assert shock.found is found and (not found or shock.start == pytest.approx(21.02))


def test_a_leader_change_after_the_revert_is_an_aftershock_unless_it_ends_a_leaderless_window() -> None:
    leader = event(REVERT + 3.0, "leader", {"node": "node2", "previous": "node1"})
    f = aftershock(history(events=[leader]))
    assert f.found and f.events == [1] and f.nodes == ["node2"] and "1 leader change(s)" in f.text
    # no leader from the fault until REVERT + 2.5: the election that ends it is the recovery (1 s of poll skew)
    leaderless = ControlPlaneWindow(FAULT + 1.0, REVERT + 2.5, REVERT + 1.5 - FAULT, None, "x", False)
    assert aftershock(history(events=[leader], planes=[leaderless])).verdict == "not found"
    late = event(REVERT + 3.6, "leader", {"node": "node2", "previous": "node1"})
    assert aftershock(history(events=[late], planes=[leaderless])).found


def test_a_task_move_after_the_revert_is_an_aftershock_but_the_faulted_nodes_own_restart_is_not() -> None:
    before = [task(1.0, "t1", "node1", "running"), task(1.0, "t3", "node3", "running")]
    # a new task on the faulted node replaces what the fault took
    assert aftershock(history(events=[*before, task(REVERT + 4.0, "t9", "node3", "running")])).verdict == "not found"
    f = aftershock(history(events=[*before, task(REVERT + 4.0, "t9", "node2", "running")]))
    assert f.found and f.events == [3] and f.nodes == ["node2"] and "1 task(s) started or stopped" in f.text
    # the task that outlived a NIC cut, shut down once the node is back (Swarm had replaced it): a second outage
    stop = task(REVERT + 4.0, "t3", "node3", "shutdown", desired="shutdown")
    assert aftershock(history(events=[*before, stop])).found
    # the same report after a power loss is the task the fault killed
    assert aftershock(history(m=meta(kind="power-loss"), events=[*before, stop])).verdict == "not found"
    other = task(REVERT + 4.0, "t1", "node1", "shutdown", desired="shutdown")
    assert aftershock(history(m=meta(kind="power-loss"), events=[*before, other])).found
    # a quorum loss touches every node its fault event names
    quorum = [event(FAULT, "fault", {"action": "inject", "node": "node3", "nodes": ["node3", "node2"]}), *before,
              task(REVERT + 4.0, "t9", "node2", "running")]
    assert aftershock(history(m=meta(kind="quorum-loss"), events=quorum)).verdict == "not found"


def test_collateral_is_suffering_on_nodes_the_fault_did_not_touch() -> None:
    assert collateral(history(outages=[window("node3", 11, 20), window("all", 12, 13)])).verdict == "not found"
    assert collateral(history(outages=[window("node1", 5, 9)])).verdict == "not found"  # ended before the fault
    f = collateral(history(outages=[window("node1", 12, 14, 40, 60)]))
    assert f.found and f.nodes == ["node1"] and f.requests == [[40, 60]]
    stopped = task(15.0, "t2", "node2", "shutdown", desired="shutdown")
    assert collateral(history(events=[stopped])).nodes == ["node2"]
    quorum = event(FAULT, "fault", {"action": "inject", "node": "node3", "nodes": ["node3", "node2"]})
    assert collateral(history(events=[quorum, stopped])).verdict == "not found"  # node2 lost power too
    assert collateral(history(m=meta(entries=["haproxy"]))).verdict == "unknown"  # behind a door: no node to name
    assert collateral(history(m=meta(node=None))).verdict == "unknown"


@pytest.mark.parametrize(("heartbeat", "bound"), [(None, 20.0), (1.0, 4.0)])
def test_never_detected_says_the_heartbeat_arithmetic(heartbeat: float | None, bound: float) -> None:
    m = meta(heartbeat=heartbeat)
    short = history(m=m, lost=None, revert=FAULT + bound - 0.1)
    assert never_detected(short).verdict == "not found" and f"{bound:.0f} s" in never_detected(short).text
    f = never_detected(history(m=m, lost=None, revert=FAULT + bound + 0.1))
    assert f.found and f"heartbeat {heartbeat or 5:g} s x 3 missed" in f.text and f.nodes == ["node3"]
    assert never_detected(history(m=m, lost=3.0)).verdict == "not found"
    assert never_detected(history(m=meta(kind="task-kill"), lost=None)).verdict == "unknown"


def test_slow_detection_is_past_four_heartbeats() -> None:
    assert slow_detection(history(lost=20.0)).verdict == "not found"
    f = slow_detection(history(lost=20.5, events=[node(FAULT + 20.5, "node3", "down")]))
    assert f.found and f.events == [1] and f.end == FAULT + 20.5
    assert slow_detection(history(m=meta(heartbeat=1.0), lost=4.5)).found
    assert slow_detection(history(lost=None)).verdict == "unknown"


def test_slow_recovery_is_past_two_heartbeats_for_a_node_that_needs_no_boot() -> None:
    assert slow_recovery(history(ready=10.0)).verdict == "not found"
    assert slow_recovery(history(ready=10.5)).found
    booted = history(m=meta(kind="power-loss"), ready=60.0)
    assert slow_recovery(booted).verdict == "unknown"  # a boot takes its own time


def test_not_restored_reads_the_last_state_of_every_task() -> None:
    whole = [task(1, "t1", "node1", "running"), task(1, "t2", "node2", "running"), task(1, "t3", "node3", "running")]
    assert not_restored(history(events=whole)).verdict == "not found"
    moved = [*whole, task(12, "t3", "node3", "shutdown", "shutdown"), task(13, "t4", "node1", "pending")]
    f = not_restored(history(events=moved))
    assert f.found and "2 of 3 replicas running" in f.text and "1 task(s) still pending" in f.text and f.events == [5]
    back = [*moved, task(14, "t4", "node1", "running")]
    assert not_restored(history(events=back)).verdict == "not found"
    assert not_restored(history()).verdict == "unknown"


def test_split_view_is_two_managers_naming_different_leaders() -> None:
    agree = event(12, "control_plane", {"available": False, "error": "2 of 3 managers answer: node1 (says leader "
                                        "node1), node2 (says leader node1); no majority names the same leader"})
    assert split_view(history(events=[agree])).verdict == "not found"
    split = event(13, "control_plane", {"available": False, "error": "3 of 3 managers answer: node1 (says leader "
                                        "node1), node2 (says leader node2), node3 (says leader None)"})
    f = split_view(history(events=[agree, split]))
    assert f.found and f.nodes == ["node1", "node2"] and f.events == [2]


def test_flapping_counts_losses_of_the_faulted_node() -> None:
    once = [node(5, "node3", "ready"), node(16, "node3", "down"), node(33, "node3", "ready")]
    assert flapping(history(events=once)).verdict == "not found"
    # a new leader reports every node Unknown until it hears from it: no loss, no return
    elected = [*once, node(40, "node3", "unknown"), node(42, "node3", "ready")]
    assert flapping(history(events=elected)).verdict == "not found"
    twice = [*once, node(40, "node3", "unknown"), node(41, "node3", "down"), node(45, "node3", "ready")]
    f = flapping(history(events=twice))
    assert f.found and f.severity == "warning" and f.events == [2, 5] and (f.start, f.end) == (16, 41)
    assert flapping(history(m=meta(kind="flap"), events=twice)).severity == "info"  # a flap fault does it on purpose


def test_unsound_measurement_carries_the_baseline_warnings() -> None:
    assert unsound(history()).verdict == "not found"
    assert unsound(history(warnings=["the client fell behind"])).text == "the client fell behind"


def test_every_rule_answers_once_in_order() -> None:
    names = [f.rule for f in findings(history())]
    assert names == ["aftershock", "collateral", "never-detected", "slow-detection", "slow-recovery",
                     "not-restored", "split-view", "flapping", "unsound-measurement"]


def test_a_campaign_counts_each_rule_per_scenario_with_its_median_length() -> None:
    from pulltheplug.analysis.finding_counts import finding_counts
    from pulltheplug.analysis.findings import Finding

    def hit(rule: str, length: float) -> Finding:
        return Finding(rule, "found", "warning", "x", 10.0, 10.0 + length)

    runs = [("nic-down@leader", [hit("aftershock", 2.0), Finding("split-view", "unknown", "high", "?")]),
            ("nic-down@leader", [hit("aftershock", 4.0)]),
            ("nic-down@leader", [hit("aftershock", 9.0), hit("flapping", 1.0)]),
            ("reboot@worker", [Finding("aftershock", "not found", "warning", "calm")])]
    counts = finding_counts(runs)
    assert list(counts) == ["nic-down@leader", "reboot@worker"] and list(counts["reboot@worker"]) == list(RULES)
    assert counts["nic-down@leader"]["aftershock"].words() == "3/3, median 4.0 s"
    assert counts["nic-down@leader"]["split-view"].unknown == 1
    assert counts["nic-down@leader"]["flapping"].words() == "1/3, median 1.0 s"
    assert counts["reboot@worker"]["aftershock"].words() == "0/1"
