"""Each fault of a schedule with its own detect, recover and findings; and the one meaning of "lost" at its edges."""

from __future__ import annotations

import dataclasses
import json
from typing import Any

import pytest
from pydantic import TypeAdapter

from pulltheplug.analysis import Summary, summarize
from pulltheplug.records.events import Event, event
from tests.analysis.history import fault, leader, node, run, stream

SCHEDULE_PHASES = {"steady": 0.0, "fault": 10.0, "revert": 50.0, "end": 70.0}


def scheduled(t: float, action: str, fid: int, name: str, kind: str = "nic-down") -> Event:
    return event(t, "fault", {"action": action, "id": fid, "kind": kind, "node": name, "nodes": [name]})


def schedule_run(events: list[Event]) -> Any:
    r = run(stream(10.0, 70.0), events, phases=SCHEDULE_PHASES)
    r.meta.fault = {"kind": "schedule", "target": "schedule", "schedule": [
        {"id": 0, "kind": "nic-down", "target": "worker", "node": "node3"},
        {"id": 1, "kind": "nic-down", "target": "worker", "node": "node4"}]}
    return r


def two_workers() -> list[Event]:
    """node3 cut 10-30 s, node4 cut 20-50 s (they overlap); each lost and Ready again at its own times."""
    return [
        leader(0.5, "node1"), *(node(0.5, n, "ready") for n in ("node1", "node2", "node3", "node4")),
        scheduled(10.0, "inject", 0, "node3"), scheduled(10.1, "injected", 0, "node3"),
        scheduled(20.0, "inject", 1, "node4"), scheduled(20.1, "injected", 1, "node4"),
        node(24.0, "node3", "down"),
        node(27.5, "node4", "disconnected"),  # Disconnected is lost too
        scheduled(30.0, "revert", 0, "node3"), scheduled(30.4, "reverted", 0, "node3"),
        node(32.0, "node3", "ready"),
        scheduled(50.0, "revert", 1, "node4"), scheduled(50.3, "reverted", 1, "node4"),
        node(53.5, "node4", "ready"),
    ]


def test_each_fault_of_a_schedule_has_its_own_detect_and_recover() -> None:
    s = summarize(schedule_run(two_workers()))
    first, second = s.faults
    assert first.detect is not None and first.recover is not None
    assert second.detect is not None and second.recover is not None
    assert (first.revert, second.revert) == (30.0, 50.0)
    assert first.detect.node_lost_after_fault_start == pytest.approx(14.0)
    assert first.recover.node_ready_after_revert == pytest.approx(2.0)
    assert second.detect.node_lost_after_fault_start == pytest.approx(7.5)
    assert second.recover.node_ready_after_revert == pytest.approx(3.5)
    assert (first.label, second.label) == ("nic-down@worker", "nic-down@worker")
    # the run's own figures for a schedule are its first fault's
    assert s.detect == first.detect and s.recover == first.recover


def test_each_fault_gets_the_findings_about_one_fault_scoped_to_its_node() -> None:
    s = summarize(schedule_run(two_workers()))
    for f in s.faults:
        rules = {x.rule: x for x in f.findings}
        assert "not-restored" not in rules and "unsound-measurement" not in rules
        assert rules["never-detected"].verdict == "not found" and f.node in rules["never-detected"].text
    # each judged on its own figure, within heartbeat 5 s x 4
    slow = [{x.rule: x for x in f.findings}["slow-detection"] for f in s.faults]
    assert [x.verdict for x in slow] == ["not found", "not found"]
    assert "node3 was seen lost after 14.0 s" in slow[0].text and "node4 was seen lost after 7.5 s" in slow[1].text


def test_an_effect_on_a_node_goes_to_the_latest_fault_on_that_node() -> None:
    events = [leader(0.5, "node1"), node(0.5, "node3", "ready"),
              scheduled(10.0, "inject", 0, "node3"), scheduled(15.0, "revert", 0, "node3"),
              scheduled(30.0, "inject", 1, "node3"), node(36.0, "node3", "down"),
              scheduled(50.0, "revert", 1, "node3"), node(52.0, "node3", "ready")]
    first, second = summarize(schedule_run(events)).faults
    assert first.detect is not None and first.detect.node_lost_after_revert is None  # node3's Down is the second's
    assert first.recover is not None and first.recover.node_ready_after_revert is None
    assert second.detect is not None and second.detect.node_lost_after_fault_start == pytest.approx(6.0)


def test_a_leader_cut_shorter_than_the_bound_seen_down_after_the_revert_is_no_detection() -> None:
    events = [leader(0.5, "node3"), node(0.5, "node3", "ready"), fault(10.0, "inject"), fault(18.0, "revert"),
              leader(19.0, "node1", previous="node3"), node(19.0, "node3", "down"), node(23.0, "node3", "ready")]
    s = summarize(run(stream(10.0, 30.0), events, phases={"steady": 0.0, "end": 30.0}))
    assert s.detect.node_lost_after_fault_start is None
    assert s.detect.node_lost_after_revert == pytest.approx(1.0)
    assert s.faults[0].detect == s.detect
    rules = {f.rule: f for f in s.findings}
    assert rules["never-detected"].verdict == "not found"  # 8 s is less than heartbeat 5 s x 4
    assert "not seen lost during the fault" in rules["never-detected"].text
    assert "1.0 s after the revert" in rules["never-detected"].text
    assert rules["slow-detection"].verdict == "unknown"
    assert "not seen lost during the fault" in rules["slow-detection"].text


def test_a_new_leaders_unknown_sweep_is_no_loss_no_flap_and_no_detection() -> None:
    sweep = [node(25.0, n, "unknown") for n in ("node1", "node2", "node3")]
    events = [leader(0.5, "node1"), *(node(0.5, n, "ready") for n in ("node1", "node2", "node3")),
              fault(10.0, "inject"), leader(24.0, "node2", previous="node1"), *sweep,
              *(node(27.0, n, "ready") for n in ("node1", "node2")), node(36.0, "node3", "unknown"),
              fault(40.0, "revert"), node(41.0, "node3", "ready")]
    s = summarize(run(stream(10.0, 50.0), events, phases={"steady": 0.0, "end": 50.0}))
    assert s.detect.node_lost_after_fault_start is None and s.detect.node_lost_after_revert is None
    assert s.detect.leader_change_after_fault_start == pytest.approx(14.0)
    rules = {f.rule: f for f in s.findings}
    assert rules["flapping"].verdict == "not found"
    assert rules["never-detected"].verdict == "found"  # 30 s without a Down, past heartbeat 5 s x 4
    assert "not seen lost during the fault" in rules["never-detected"].text
    assert s.faults[0].detect == s.detect


def test_disconnected_counts_as_lost() -> None:
    events = [node(0.5, "node3", "ready"), fault(10.0, "inject"), node(13.0, "node3", "disconnected"),
              fault(20.0, "revert"), node(22.0, "node3", "ready")]
    s = summarize(run(stream(10.0, 30.0), events))
    assert s.detect.node_lost_after_fault_start == pytest.approx(3.0)
    assert s.faults[0].recover is not None and s.faults[0].recover.node_ready_after_revert == pytest.approx(2.0)


def test_a_summary_written_before_faults_had_figures_still_loads() -> None:
    s = summarize(schedule_run(two_workers()))
    old = json.loads(json.dumps(dataclasses.asdict(s)))
    for f in old["faults"]:
        for key in ("revert", "target", "detect", "recover", "findings"):
            del f[key]
    del old["detect"]["node_lost_after_revert"]
    back = TypeAdapter(Summary).validate_python(old)
    assert back.faults[0].detect is None and back.detect.node_lost_after_revert is None
    assert TypeAdapter(Summary).validate_python(json.loads(json.dumps(dataclasses.asdict(s)))) == s


def test_the_terminal_and_the_report_say_not_seen_lost_during_the_fault() -> None:
    from rich.console import Console

    from pulltheplug.cli.render import summary_tables
    from pulltheplug.report.html import render_html

    events = [node(0.5, "node3", "ready"), fault(10.0, "inject"), fault(18.0, "revert"), node(19.0, "node3", "down"),
              node(23.0, "node3", "ready")]
    r = run(stream(10.0, 30.0), events, phases={"steady": 0.0, "end": 30.0})
    s = summarize(r)
    console = Console(width=300, record=True)
    for table in summary_tables(s, []):
        console.print(table)
    assert "node lost not seen lost during the fault (lost 1.00s after the revert)" in console.export_text()
    assert "not seen lost during the fault; seen lost after the revert" in render_html(r, s, [])

    two = schedule_run(two_workers())
    console = Console(width=300, record=True)
    for table in summary_tables(summarize(two), []):
        console.print(table)
    text = console.export_text()
    assert "node lost after start" in text and "14.00s" in text and "7.50s" in text


def test_a_campaign_aggregates_every_fault_by_kind_and_target() -> None:
    from pulltheplug.analysis.compare import compare_faults
    from pulltheplug.report.campaign_html import fault_rows

    late = [e for e in two_workers() if not (e.type == "node" and e.data["node"] == "node4" and e.t == 27.5)]
    late.append(node(51.0, "node4", "down"))  # the second run: node4 seen lost only after its revert
    summaries = [summarize(schedule_run(two_workers())), summarize(schedule_run(late))]
    c = compare_faults([("schedule", s) for s in summaries])
    assert c.labels == ("nic-down@worker",) and c.schedules
    lost = c.stats["detect"]["nic-down@worker"]
    assert lost.values == pytest.approx((14.0, 7.5, 14.0)) and lost.missing == 1
    assert lost.runs == ("synthetic #1", "synthetic #2", "synthetic #1")
    (row,) = fault_rows(c)
    assert row["label"] == "nic-down@worker" and row["faults"] == 4 and row["cells"][0].endswith("(1 none)")
    single = summarize(run(stream(10.0, 30.0), [fault(10.0, "inject"), node(13.0, "node3", "down"),
                                               fault(20.0, "revert")]))
    assert fault_rows(compare_faults([("nic-down@node3", single)])) == []  # one fault a run: the scenarios say it


def test_each_fault_of_a_schedule_has_its_own_degraded_span() -> None:
    """node3's failures 12-16 s belong to its fault, node4's 22-25 s to the next one: never one span for both."""
    def fail(entry: str, due: float) -> str | None:
        return "refused" if (entry == "node3" and 12.0 <= due < 16.0) or (entry == "node2" and 22.0 <= due < 25.0) \
            else None

    r = schedule_run(two_workers())
    r.requests = stream(10.0, 70.0, fail=fail)
    s = summarize(r)
    first, second = s.faults
    assert first.degraded_span is not None and second.degraded_span is not None
    assert first.degraded_span.start == pytest.approx(12.0, abs=0.35)
    assert first.degraded_span.end < 20.0  # stops at the next fault's start
    assert second.degraded_span.start == pytest.approx(22.0, abs=0.35)
    assert second.degraded_span.after_fault_start == pytest.approx(2.0, abs=0.35)
    assert first.degraded_span.failed + second.degraded_span.failed == s.outcomes.fail


def test_faults_injected_together_share_their_failures_and_the_run_gives_the_first_faults_span() -> None:
    events = [leader(0.5, "node1"), *(node(0.5, n, "ready") for n in ("node1", "node2", "node3", "node4")),
              scheduled(10.0, "inject", 0, "node3"), scheduled(10.0, "inject", 1, "node2"),
              scheduled(30.0, "revert", 0, "node3"), scheduled(30.2, "reverted", 0, "node3"),
              scheduled(30.0, "revert", 1, "node2"), scheduled(30.3, "reverted", 1, "node2"),
              scheduled(40.0, "inject", 2, "node3"), scheduled(45.0, "revert", 2, "node3"),
              scheduled(45.2, "reverted", 2, "node3")]
    r = schedule_run(events)
    r.requests = stream(10.0, 70.0, fail=lambda entry, due: "refused" if (
        (entry in ("node2", "node3") and 12.0 <= due < 20.0) or (entry == "node3" and 41.0 <= due < 44.0)) else None)
    s = summarize(r)
    assert len(s.faults) == 3
    a, b, later = s.faults
    assert a.degraded_span is not None and b.degraded_span == a.degraded_span  # same start: the same span
    assert a.degraded_span.start == pytest.approx(12.0, abs=0.35) and a.degraded_span.end < 40.0
    assert later.degraded_span is not None and later.degraded_span.start == pytest.approx(41.0, abs=0.35)
    assert s.degraded_span == a.degraded_span  # the run's own, for a schedule: its first fault's, bounded


def test_a_run_stopped_before_its_fault_still_warns_of_a_sick_steady_state() -> None:
    requests = stream(200.0, 8.0, fail=lambda entry, due: "refused" if entry == "node2" else None)
    s = summarize(run(requests, [], phases={"steady": 0.0, "end": 8.0}, status="interrupted"))
    assert s.fault.start is None  # interrupted during its steady state: no fault was ever injected
    assert any("steady state before the fault was not healthy" in w for w in s.warnings)
