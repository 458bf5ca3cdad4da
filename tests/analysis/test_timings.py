"""Time to detect and to recover, from node, leader and task events and from the requests."""

from __future__ import annotations

import dataclasses

import pytest

from pulltheplug.analysis import summarize, time_to_detect, time_to_recover
from pulltheplug.analysis.timings import healthy_words
from pulltheplug.records.events import Event
from pulltheplug.records.model import RequestRecord
from tests.analysis.history import failing, fault, leader, node, run, stream, task
from tests.oracles import outage_windows

FAULT_AT, REVERT_AT = 10.0, 20.0


def cluster_history() -> list[Event]:
    """node3 leads and runs one of 3 replicas; it goes at 10 s, node1 takes over, node3 is back at 22.5 s."""
    return [
        leader(0.5, "node3"),
        *(node(0.5, n, "ready") for n in ("node1", "node2", "node3")),
        *(task(0.5, f"t{i}", "running", on=f"node{i}") for i in (1, 2, 3)),
        node(5.0, "node3", "unknown"),  # a blip before the fault: not a detection
        node(6.0, "node3", "ready"),
        fault(FAULT_AT, "inject"),
        fault(FAULT_AT + 0.2, "injected"),
        node(13.2, "node3", "down"),
        task(13.3, "t3", "running", desired="shutdown", on="node3"),
        task(13.4, "t4", "pending", on="node1"),
        leader(14.5, None, previous="node3"),  # no leader known for a moment: not yet a change
        leader(15.0, "node1", previous=None),
        task(16.0, "t4", "running", on="node1"),
        fault(REVERT_AT, "revert"),
        node(21.0, "node1", "ready"),  # another node: does not count
        node(22.5, "node3", "ready"),
    ]


def test_detect_and_recover_from_events_and_requests() -> None:
    requests = stream(200.0, 30.0, fail=failing("node3", 12.0, 14.0))
    s = summarize(run(requests, cluster_history()))

    assert s.detect.node_lost_after_fault_start == pytest.approx(3.2)
    assert s.detect.leader_change_after_fault_start == pytest.approx(5.0)
    assert s.recover.node_ready_after_revert == pytest.approx(2.5)
    assert s.recover.replicas_running_after_fault_start == pytest.approx(6.0)
    assert not s.recover.replicas_never_lost
    assert s.recover.requests_healthy_after_fault_start == pytest.approx(4.0, abs=3 / 200)


def test_fault_start_is_the_inject_event_over_meta_phases() -> None:
    events = [fault(9.0, "inject"), node(12.0, "node3", "down")]
    s = summarize(run([], events))  # meta says fault at 10.0
    assert s.fault.start == 9.0
    assert s.detect.node_lost_after_fault_start == pytest.approx(3.0)


def test_replicas_never_lost_is_flagged_not_zero() -> None:
    events = [*(task(0.5, f"t{i}", "running") for i in (1, 2, 3)), task(12.0, "t4", "pending")]
    r = time_to_recover(events, [], {"node": "node3"}, FAULT_AT, REVERT_AT, desired=None)
    assert r.replicas_running_after_fault_start is None
    assert r.replicas_never_lost


def test_replica_target_from_workload_replicas() -> None:
    events = [
        *(task(0.5, f"t{i}", "running") for i in (1, 2, 3)),
        task(11.0, "t3", "failed", desired="shutdown"),
        task(12.0, "t4", "running"),  # back to 3, but the service asks for 4
        task(17.0, "t5", "running"),
    ]
    r = time_to_recover(events, [], {"node": "node3"}, FAULT_AT, REVERT_AT, desired=4)
    assert r.replicas_running_after_fault_start == pytest.approx(7.0)


def test_no_leader_change_and_node_never_seen_down() -> None:
    events = [leader(0.5, "node1"), leader(12.0, "node1", previous="node1"), node(12.0, "node2", "down")]
    d = time_to_detect(events, "node3", FAULT_AT)
    assert d.node_lost_after_fault_start is None
    assert d.leader_change_after_fault_start is None


def test_requests_healthy_is_zero_without_failures_after_the_fault() -> None:
    requests = stream(200.0, 30.0, fail=failing("node2", 2.0, 3.0))  # before the fault only
    r = time_to_recover([], outage_windows(requests), {"node": "node3"}, FAULT_AT, REVERT_AT, desired=None)
    assert r.requests_healthy_after_fault_start == 0.0


def test_no_fault_means_no_timings() -> None:
    s = summarize(run(stream(200.0, 5.0), phases={"steady": 0.0, "end": 5.0}, fault_node=None))
    assert s.fault.start is None and not s.fault.reverted
    assert s.detect.node_lost_after_fault_start is None and s.detect.leader_change_after_fault_start is None
    assert s.recover.node_ready_after_revert is None and s.recover.requests_healthy_after_fault_start is None


def test_every_figure_takes_the_one_fault_start_when_meta_and_the_inject_event_differ() -> None:
    from pulltheplug.report.timeline import timeline_of

    # meta says fault at 10.0, revert at 20.0; the events say inject at 9.0, revert at 19.0
    requests = stream(200.0, 30.0, fail=failing("node3", 9.0, 9.5))
    events = [leader(0.5, "node3"), node(0.5, "node3", "ready"), fault(9.0, "inject"),
              node(12.0, "node3", "down"), leader(13.0, "node1", previous="node3"),
              fault(19.0, "revert"), node(21.0, "node3", "ready")]
    r = run(requests, events)
    s = summarize(r)
    assert s.fault.start == s.phases.fault == 9.0 and s.phases.revert == 19.0
    assert timeline_of(r).fault is not None and timeline_of(r).fault.start == 9.0  # type: ignore[union-attr]
    assert s.availability.by_phase["steady"] == 1.0  # the failures at 9.0-9.5 are in the fault phase
    assert s.detect.node_lost_after_fault_start == pytest.approx(3.0)
    assert s.detect.leader_change_after_fault_start == pytest.approx(4.0)
    assert s.recover.node_ready_after_revert == pytest.approx(2.0)
    assert s.recover.requests_healthy_after_fault_start == pytest.approx(0.5, abs=3 / 200)


def _cut_then_a_blip(entry: str, due: float, kind: str = "refused") -> list[RequestRecord]:
    """node3 fails 12-14 s (its cut), then one stray request to `entry` fails at `due`, long after."""
    requests = stream(200.0, 30.0, fail=failing("node3", 12.0, 14.0))
    i = round(due * 200)
    requests[i] = stream(200.0, 30.0, fail=failing(entry, due, due + 0.001, kind))[i]
    return requests


def test_requests_healthy_is_exact_by_default_and_says_which_request_it_ends_on() -> None:
    requests = _cut_then_a_blip("node1", 25.5)
    s = summarize(run(requests, cluster_history()))
    r = s.recover
    assert r.requests_healthy_after_fault_start == pytest.approx(25.5 - FAULT_AT, abs=4 / 200)
    assert r.requests_healthy_ends_on is not None
    assert (r.requests_healthy_ends_on.k, r.requests_healthy_ends_on.entry) == (round(25.5 * 200), "node1")
    assert r.requests_ignored_as_blips == 0
    assert healthy_words(r) == f"ends on request {round(25.5 * 200)} to node1"


def test_blips_are_left_out_only_when_the_run_says_so() -> None:
    requests = _cut_then_a_blip("node1", 25.5)
    s = summarize(run(requests, cluster_history(), analysis={"recovery": {"ignore_below": 2}}))
    r = s.recover
    last_of_cut = max(q.k for q in requests if q.target == "node3" and q.outcome != "ok" and q.due < 15)
    assert r.requests_healthy_after_fault_start == pytest.approx(14.0 - FAULT_AT, abs=3 / 200)
    assert r.requests_healthy_ends_on is not None and r.requests_healthy_ends_on.k == last_of_cut
    assert r.requests_ignored_as_blips == 1
    assert "1 failed request(s) left out as blips" in healthy_words(r)
    assert s.faults[0].recover is not None and s.faults[0].recover.requests_ignored_as_blips == 1  # per fault too


def test_a_recovery_with_nothing_failed_says_so() -> None:
    requests = stream(200.0, 30.0)
    s = summarize(run(requests, cluster_history()))
    assert s.recover.requests_healthy_after_fault_start == 0.0 and s.recover.requests_healthy_ends_on is None
    assert healthy_words(s.recover) == "no request failed after the fault start"


def test_ignore_below_is_a_count_of_requests_not_negative() -> None:
    from pydantic import ValidationError

    from pulltheplug.spec import ExperimentSpec

    assert ExperimentSpec().analysis.recovery.ignore_below == 0
    with pytest.raises(ValidationError):
        ExperimentSpec.model_validate({"analysis": {"recovery": {"ignore_below": -1}}})


def test_an_outage_still_on_at_the_end_is_never_a_blip() -> None:
    """Two failures on node3 at the very end of the stream: with ignore_below 3 the run has still not recovered."""
    requests = stream(200.0, 30.0)
    for i in (len(requests) - 1, len(requests) - 4):  # node3's last two requests (every third is node3's)
        requests[i] = dataclasses.replace(requests[i], outcome="fail", status=None, error="refused")
    assert {requests[i].target for i in (len(requests) - 1, len(requests) - 4)} == {"node3"}
    s = summarize(run(requests, cluster_history(), analysis={"recovery": {"ignore_below": 3}}))
    assert s.recover.requests_healthy_after_fault_start is None and s.recover.requests_ignored_as_blips == 0


def test_the_words_never_say_nothing_failed_when_blips_were_left_out() -> None:
    requests = _cut_then_a_blip("node1", 25.5)
    requests = [dataclasses.replace(r, outcome="ok", status=200, error=None) if r.target == "node3" else r
                for r in requests]  # only the blip is left
    s = summarize(run(requests, cluster_history(), analysis={"recovery": {"ignore_below": 2}}))
    assert s.recover.requests_healthy_after_fault_start == 0.0
    words = healthy_words(s.recover)
    assert "no request failed" not in words and "1 failed request(s) left out as blips" in words
