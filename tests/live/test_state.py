"""The live state: records folded one at a time give what a watcher asks at each moment (pure)."""

from __future__ import annotations

from collections import Counter

import pytest

from pulltheplug.analysis import summarize
from pulltheplug.analysis.windowed import MIN_REQUESTS, worst_of
from pulltheplug.live.state import LATENCY_BUCKETS, LiveState, OpenOutage, RecentRates
from pulltheplug.records.events import event_to_dict
from pulltheplug.records.model import RequestRecord, request_to_dict
from tests.analysis.history import failing, run, stream
from tests.analysis.test_windowed import round_robin_door
from tests.report.synthetic import FAULT, synthetic_run


def folded(until: float) -> LiveState:
    """The synthetic run as a follower sees it at `until`: requests that ended, events that happened."""
    run = synthetic_run()
    run.meta.plan = {"steady": 20.0, "fault": 20.0, "settle": 5.0, "timeout": 60.0}
    state = LiveState(run.meta)
    for e in run.events:
        if e.t <= until:
            state.add_event(event_to_dict(e))
    for r in sorted(run.requests, key=lambda r: r.end):
        if r.end <= until:
            state.add_request(request_to_dict(r))
    return state


def test_an_outage_opens_at_the_first_failure_and_closes_only_on_a_later_ok() -> None:
    o = OpenOutage()
    o.add(1.0, ok=True)
    assert o.length(5.0) is None
    o.add(2.0, ok=False)
    o.add(0.5, ok=False)  # due before the last ok: the service answered after it, nothing is open since then
    assert o.length(5.0) == pytest.approx(3.0)
    o.add(1.5, ok=False)  # finished late, but due after the last ok: the outage began then
    assert o.length(5.0) == pytest.approx(3.5)
    o.add(1.9, ok=True)  # answered at 1.9: the failures before it are over, the one due at 2.0 is not
    assert o.length(5.0) == pytest.approx(3.0)
    o.add(2.6, ok=True)
    assert o.length(5.0) is None


def test_the_last_second_counts_requests_that_ended_in_it() -> None:
    r = RecentRates()
    for t, o in ((0.5, "ok"), (1.2, "ok"), (1.9, "fail"), (2.1, "info"), (2.15, "ok")):
        r.add(t, o)
    assert r.at(2.0) == {"ok": 1, "fail": 1, "info": 0}  # (1.0, 2.0]
    assert r.at(2.2) == {"ok": 1, "fail": 1, "info": 1}  # 1.2 is gone, 2.15 came


def test_totals_and_latency_buckets_equal_the_records() -> None:
    run = synthetic_run()
    state = folded(1e9)
    want = Counter((r.target, r.outcome) for r in run.requests)
    got = {(entry, o): n for entry, e in state.entries.items() for o, n in e.outcomes.items() if n}
    assert got == dict(want)
    node1 = state.entries["node1"]
    ok = [r for r in run.requests if r.target == "node1" and r.outcome == "ok"]
    assert node1.cumulative()[-1] == len(ok)  # every ok latency is under the last bound (30 s)
    assert node1.cumulative()[LATENCY_BUCKETS.index(0.01)] == sum(r.latency <= 0.01 for r in ok)
    # the records keep microseconds: each latency read back is within 1 us of the one measured
    assert node1.latency_sum == pytest.approx(sum(r.latency for r in ok), abs=1e-6 * len(ok))


def test_mid_fault_the_state_shows_the_fault_the_outage_and_the_new_leader() -> None:
    now = 35.0
    s = folded(now).status(now)
    assert s["phase"] == "fault" and s["phase_left"] == pytest.approx(20.0 - (now - FAULT[0]), abs=0.1)
    assert s["faults"] == [{"kind": "nic-down", "node": "node3", "nodes": ["node3"], "state": "injected",
                            "since": 20.05}]
    assert s["outage"]["entry"] == "node3" and s["outage"]["seconds"] == pytest.approx(now - FAULT[0], abs=0.05)
    assert s["leader"] == "node1"
    nodes = {n["name"]: n for n in s["nodes"]}
    assert nodes["node3"]["state"] == "down" and nodes["node1"]["leader"] and nodes["node1"]["tasks"] == 2
    # 100 req/s over 3 entries, those to node3 failing: about a third of the last second fails
    assert s["rates"]["ok"] == pytest.approx(67, abs=2) and s["rates"]["fail"] == pytest.approx(33, abs=2)


def test_after_the_revert_the_outage_is_closed_and_the_fault_gone() -> None:
    s = folded(50.0).status(50.0)
    assert s["phase"] == "recovery" and s["outage"] is None and s["faults"] == []
    assert {n["name"]: n["state"] for n in s["nodes"]}["node3"] == "ready"


def test_bins_match_the_report_timeline() -> None:
    from tests.oracles import request_bins

    run = synthetic_run()
    state = folded(1e9)
    state.bins.cover(60.0)
    want = request_bins(run.requests, 60.0)
    assert state.bins.counts["fail"] == want.fail and state.bins.counts["ok"] == want.ok
    p50, p99 = state.bins.quantiles()
    assert p50 == pytest.approx(want.p50_ms, abs=1e-3) and p99 == pytest.approx(want.p99_ms, abs=1e-3)  # ms


def test_the_front_doors_view_of_each_node_shows_beside_the_swarms() -> None:
    state = folded(35.0)
    state.add_event({"t": 30.0, "type": "door", "door": "haproxy", "backend": "node3", "state": "down"})
    nodes = {n["name"]: n for n in state.status(35.0)["nodes"]}
    assert nodes["node3"]["door"] == "down" and nodes["node1"]["door"] is None
    state.add_event({"t": 31.0, "type": "door", "door": "haproxy", "state": "silent", "error": "refused"})
    assert state.status(35.0)["door_silent"] == "refused"
    state.add_event({"t": 32.0, "type": "door", "door": "haproxy", "backend": "node3", "state": "up"})
    assert state.status(35.0)["door_silent"] is None


def _live_of(requests: list[RequestRecord], until: float) -> LiveState:
    state = LiveState(run(requests).meta)
    for r in sorted(requests, key=lambda r: r.end):
        if r.end <= until:
            state.add_request(request_to_dict(r))
    return state


@pytest.mark.parametrize("requests", [round_robin_door(), stream(200.0, 30.0, fail=failing("node3", 12.0, 14.0))],
                         ids=["behind-a-door", "straight-to-the-nodes"])
def test_the_live_worst_1s_window_agrees_with_the_summary(requests: list[RequestRecord]) -> None:
    summary = summarize(run(requests))
    final = worst_of(summary.windowed_availability, 1.0)
    assert final is not None and final.worst is not None and final.start is not None
    live = _live_of(requests, 1e9).worst_window(60.0)
    assert live is not None
    # 10 ms bins from 0 instead of windows from the first due time: at most one bin's requests apart
    assert live[0] == pytest.approx(final.worst, abs=2 / MIN_REQUESTS)
    assert live[1] == pytest.approx(final.start, abs=0.05)
    assert _live_of(requests, 1e9).windows.error_seconds == summary.error_seconds


def test_a_window_is_judged_only_once_its_requests_had_their_timeout_and_their_records_came() -> None:
    """Mid-failure, the window the failures are in is not judged yet: its requests may still be running, and
    their records reach the folder up to LATE seconds after they end."""
    requests = stream(200.0, 30.0, fail=failing("node3", 12.0, 14.0))
    early = _live_of(requests, 14.0).worst_window(14.0)  # timeout 1 s + LATE: windows ending by 11.5 s only
    assert early is not None and early[0] == 1.0
    later = _live_of(requests, 15.6).worst_window(15.6)  # windows ending by 13.1 s: [12.0, 13.0) is one
    assert later is not None and later[0] < 0.7


def test_once_the_run_has_ended_its_last_seconds_are_judged_too() -> None:
    """Every request failing from 8.5 s of a 10 s run: the final live figure is the summary's, not 100%."""
    requests = stream(100.0, 10.0, fail=lambda entry, due: "refused" if due >= 8.5 else None)
    made = run(requests, phases={"steady": 0.0, "end": 10.05}, fault_node=None)
    summary = summarize(made)
    state = _live_of(requests, 1e9)
    state.meta = made.meta
    live = state.worst_window(10.05)
    final = worst_of(summary.windowed_availability, 1.0)
    assert live is not None and final is not None and final.worst == 0.0
    assert live[0] == pytest.approx(0.0, abs=2 / MIN_REQUESTS)


def test_due_times_on_a_bin_edge_fall_in_that_bin() -> None:
    from pulltheplug.live.windows import BIN, LiveWindows

    w = LiveWindows()
    for k in range(2000):
        w.add(k / 100, True)  # every 10 ms: one request a bin, none early
    assert w._used == 2000 and (w._sent[:2000] == 1).all()
    assert BIN == 0.01
