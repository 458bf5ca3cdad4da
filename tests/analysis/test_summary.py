"""summarize(): the whole run in one JSON-ready object, even for odd runs (empty, cut short, unreverted)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pulltheplug.analysis import summarize, summarize_folder
from pulltheplug.records.events import Event, event
from pulltheplug.records.folder import RunWriter, load_run
from pulltheplug.records.model import NOT_SENT, RequestRecord
from tests.analysis.history import ENTRIES, control_plane, failing, fault, node, run, stream, task


def test_empty_run_summarizes_without_crashing() -> None:
    s = summarize(run(phases={}, fault_node=None, status="running"))
    assert s.status == "interrupted"
    assert s.outcomes.requests == 0
    assert s.availability.overall is None
    assert s.outages == [] and s.longest_outage == 0.0
    assert all(v is None for v in (*s.latency_all.values(), *s.latency_ok.values()))
    assert s.client_lag is None
    assert s.achieved_rate is None
    json.dumps(s.to_dict())


def test_fault_never_reverted() -> None:
    requests = stream(200.0, 30.0, fail=failing("node3", 12.0, 99.0, kind="unreachable"))
    events = [
        *(task(0.5, f"t{i}", "running") for i in (1, 2, 3)),
        fault(10.0, "inject"),
        node(13.0, "node3", "down"),
        task(13.5, "t3", "running", desired="shutdown"),
    ]
    s = summarize(run(requests, events, phases={"steady": 0.0, "fault": 10.0, "end": 30.0}))

    assert not s.fault.reverted and s.phases.revert is None
    assert s.detect.node_lost_after_fault_start == pytest.approx(3.0)
    assert s.recover.node_ready_after_revert is None
    assert s.recover.replicas_running_after_fault_start is None and not s.recover.replicas_never_lost
    assert s.recover.requests_healthy_after_fault_start is None
    assert s.availability.by_phase["recovery"] is None
    assert s.availability.by_entry_phase["node3"]["fault"] == pytest.approx(2 / 20, abs=1e-3)  # the fault lasts to 30 s
    assert s.outages[0].open


def test_errors_by_kind_and_outcome_counts() -> None:
    def fail(entry: str, due: float) -> str | None:
        if entry == "node3" and 1.0 <= due < 2.0:
            return "timeout"
        if entry == "node2" and 1.0 <= due < 1.5:
            return "refused"
        return None

    s = summarize(run(stream(300.0, 3.0, fail=fail)))
    assert s.errors == {"timeout": 100, "refused": 50}
    assert list(s.errors) == ["timeout", "refused"]  # most frequent first
    assert (s.outcomes.requests, s.outcomes.ok, s.outcomes.fail, s.outcomes.info) == (900, 750, 50, 100)


def test_interrupted_run_event_marks_the_run_interrupted() -> None:
    s = summarize(run(events=[event(5.0, "run", {"action": "interrupted"})], status="interrupted"))
    assert s.status == "interrupted"
    assert summarize(run()).status == "complete"


def test_summary_of_a_written_run_folder(tmp_path: Path) -> None:
    made = run(stream(200.0, 30.0, fail=failing("node3", 12.0, 14.0)), [fault(10.0, "inject")])
    writer = RunWriter(tmp_path / "run", made.meta, "name: synthetic\n")
    for r in made.requests:
        writer.request(r)
    for e in made.events:
        writer.event(e)
    writer.close()

    s, expected = summarize_folder(tmp_path / "run").to_dict(), summarize(made).to_dict()
    # times are stored to the microsecond, so latencies may land one histogram bucket apart
    for key in ("latency_all", "latency_ok", "client_lag"):
        s.pop(key), expected.pop(key)
    assert s == expected
    assert (s["name"], s["rate"], s["duration"]) == ("synthetic", 200.0, 30.0)
    assert (s["fault"]["node"], s["fault"]["kind"], s["fault"]["start"]) == ("node3", "nic-down", 10.0)
    assert json.loads(json.dumps(s))["outages"][0]["entry"] == "node3"


def test_a_saturated_steady_state_is_flagged() -> None:
    from pulltheplug.analysis.availability import Availability
    from pulltheplug.analysis.baseline import baseline_warnings
    from pulltheplug.analysis.latency import Percentiles

    def avail(steady: float) -> Availability:
        return Availability(steady, {"steady": steady, "fault": 0.5, "recovery": 1.0}, {}, {})

    assert baseline_warnings(avail(1.0), Percentiles(100, 1.0, 2.0, 3.0, 4.0), 200) == []
    assert baseline_warnings(avail(0.995), None, 200) == []
    sick = baseline_warnings(avail(0.0958), Percentiles(100, 100.0, 800.0, 1200.0, 1500.0), 1500)
    assert len(sick) == 2
    assert "9.58% ok" in sick[0] and "1500 req/s" in sick[0]
    assert "1200 ms late" in sick[1]
    healthy = Percentiles(100, 1.0, 2.0, 3.0, 4.0)
    assert baseline_warnings(avail(1.0), healthy, 20000, capacity=20000) == []  # at the edge: still sound
    (over,) = baseline_warnings(avail(1.0), healthy, 20001, capacity=20000)
    assert "20001 req/s" in over and "about 20000 req/s" in over and "--workers" in over
    # without a fault (a load test) failures are what it measures, not a sick baseline hiding a fault
    assert baseline_warnings(avail(0.0958), healthy, 1500, had_fault=False) == []


def _not_sent(k: int, due: float, target: str, given_up: float) -> RequestRecord:
    return RequestRecord(k=k, due=due, sent=None, end=given_up, target=target, outcome="fail", error=NOT_SENT)


def test_requests_never_sent_are_counted_apart_and_judged_nowhere() -> None:
    """Ctrl-C at 5.3 s while 30 due requests still waited for a free slot: the service never saw them."""
    served = stream(100.0, 5.0)
    waiting = [_not_sent(500 + i, 5.0 + i / 100, ENTRIES[i % 3], 5.3) for i in range(30)]
    s = summarize(run(served + waiting, status="interrupted", phases={"end": 5.3}, fault_node=None))
    o = s.outcomes
    assert (o.requests, o.ok, o.fail, o.info, o.not_sent) == (530, 500, 0, 0, 30)
    assert s.availability.overall == 1.0 and all(v == 1.0 for v in s.availability.by_entry.values())
    assert s.outages == [] and s.errors == {}
    assert s.client_lag is not None and s.client_lag.count == 500
    overall = s.latency_all["overall"]
    assert overall is not None and overall.count == 500


def test_a_request_never_sent_survives_the_run_folder(tmp_path: Path) -> None:
    made = run([*stream(100.0, 0.1), _not_sent(10, 0.1, "node2", 0.4)], fault_node=None)
    writer = RunWriter(tmp_path / "run", made.meta, "name: synthetic\n")
    for r in made.requests:
        writer.request(r)
    writer.close()
    (first, *_, last) = load_run(tmp_path / "run").requests
    assert first.was_sent and first.sent == 0.0
    assert not last.was_sent and (last.sent, last.error) == (None, NOT_SENT)


def _whole(t: float, down: str | None = None, unreachable: str | None = None) -> list[Event]:
    """The observer's first view: every node in one poll, all dated alike."""
    rows = []
    for name in ENTRIES:
        state = "down" if name == down else "ready"
        manager = "unreachable" if name == unreachable else "leader" if name == "node1" else "reachable"
        rows.append(event(t, "node", {"node": name, "state": state, "availability": "active", "role": "manager",
                                      "manager": manager}))
    return rows


def _unsound(s: object) -> str:
    found = next(f for f in s.findings if f.rule == "unsound-measurement")  # type: ignore[attr-defined]
    return f"{found.verdict}: {found.text}"


def test_a_run_that_begins_whole_has_no_start_warning() -> None:
    s = summarize(run(stream(100.0, 30.0), [control_plane(0.2, True), *_whole(0.2)]))
    assert s.warnings == []
    assert _unsound(s).startswith("not found")


def test_a_node_down_when_the_run_begins_is_unsound() -> None:
    """The aftermath of the run before: node3 still Down at the first poll, long before this run's fault."""
    s = summarize(run(stream(100.0, 30.0), [control_plane(0.2, True), *_whole(0.2, down="node3",
                                                                                unreachable="node3")]))
    (warning,) = s.warnings
    assert "not whole when the run began (node3 down)" in warning and "--wait-whole" in warning
    assert _unsound(s).startswith("found") and "node3 down" in _unsound(s)


def test_an_unreachable_manager_at_the_start_is_unsound() -> None:
    s = summarize(run(stream(100.0, 30.0), [control_plane(0.2, True), *_whole(0.2, unreachable="node2")]))
    (warning,) = s.warnings
    assert "(node2 unreachable)" in warning


def test_no_agreed_leader_at_the_start_is_unsound_and_says_until_when() -> None:
    events = [control_plane(0.2, False, "no leader"), control_plane(12.0, True), *_whole(12.0)]
    s = summarize(run(stream(100.0, 30.0), events))
    (warning,) = s.warnings
    assert "no majority of managers agreed on a leader (until 12.0 s)" in warning
    assert _unsound(s).startswith("found")


def test_a_first_node_view_after_the_fault_says_nothing_of_the_start() -> None:
    """The observer first answered at 11 s, after the fault at 10 s: node3 Down then is the fault, not the past."""
    s = summarize(run(stream(100.0, 30.0), [control_plane(0.2, True), *_whole(11.0, down="node3")]))
    assert s.warnings == []
