"""timeline_of(): 100 ms bins, node lanes, markers and windows, from the synthetic 60 s run."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pulltheplug.analysis.percentile import nearest_rank
from pulltheplug.records.events import FaultEvent
from pulltheplug.records.model import NOT_SENT, RequestRecord
from pulltheplug.report.timeline import timeline_of
from tests.oracles import outcome_counts, request_bins
from tests.report.synthetic import synthetic_run


def test_bins_cover_the_run_and_count_every_request() -> None:
    run = synthetic_run()
    tl = timeline_of(run)
    counts = outcome_counts(run.requests)
    assert len(tl.bins.start) == 600  # 60 s in 100 ms bins
    assert (sum(tl.bins.ok), sum(tl.bins.fail), sum(tl.bins.info)) == (counts.ok, counts.fail, counts.info)
    assert tl.bins.fail[:200] == [0] * 200  # nothing failed before the fault at 20 s
    assert tl.bins.ok[0] + tl.bins.fail[0] + tl.bins.info[0] == 10  # 100 req/s
    assert all(p is not None for p in tl.bins.p50_ms)


def test_bin_edges_do_not_drift_in_floating_point() -> None:
    requests = [RequestRecord(k=k, due=k / 100, sent=k / 100, end=k / 100 + 0.001, target="n", outcome="ok")
                for k in range(100)]
    bins = request_bins(requests, end=1.0)
    assert bins.ok == [10] * 10


def test_latency_per_bin_is_of_ok_requests_only() -> None:
    requests = [
        RequestRecord(0, 0.00, 0.00, 0.002, "n", "ok"),
        RequestRecord(1, 0.05, 0.05, 0.054, "n", "ok"),
        RequestRecord(2, 0.06, 0.06, 1.06, "n", "info", error="timeout"),
    ]
    bins = request_bins(requests, end=0.2)
    assert bins.p50_ms[0] == pytest.approx(2.0) and bins.p99_ms[0] == pytest.approx(4.0)
    assert bins.p50_ms[1] is None
    assert nearest_rank([1.0, 2.0, 3.0, 4.0], 50) == 2.0


def test_node_lanes_follow_node_events_and_the_fault() -> None:
    tl = timeline_of(synthetic_run())
    lanes = {lane.node: lane for lane in tl.lanes}
    assert list(lanes) == ["node1", "node2", "node3"]
    node3 = lanes["node3"]
    assert [iv.state for iv in node3.states] == ["ready", "ready", "unknown", "down", "ready"]
    assert [(iv.start, iv.end) for iv in node3.states][2:4] == [(25.0, 30.0), (30.0, 44.0)]
    assert node3.states[-1].end == 60.0
    (fault,) = node3.fault
    assert (fault.state, fault.start) == ("nic down", 20.05)
    assert fault.end == pytest.approx(40.1)
    assert [(iv.start, iv.end) for iv in node3.leader] == [(0.2, 23.5)]
    assert [(iv.start, iv.end) for iv in lanes["node1"].leader] == [(23.5, 60.0)]
    assert lanes["node2"].fault == [] and lanes["node2"].leader == []


def test_markers_windows_and_fault_span() -> None:
    tl = timeline_of(synthetic_run())
    assert [(m.t, m.kind, m.node) for m in tl.markers] == [
        (23.5, "leader", "node1"),
        (31.0, "task", "node1"),  # t4 appears
        (32.5, "task", "node1"),  # t4 starts running
    ]
    assert [(w.start, w.end) for w in tl.control_plane] == [(21.0, 23.5)]
    assert tl.fault is not None
    assert (tl.fault.start, tl.fault.end, tl.fault.open) == (20.0, 40.0, False)


def test_an_unreverted_power_loss_is_off_to_the_end() -> None:
    run = synthetic_run()
    run.events = [replace(e, kind="power-loss") if isinstance(e, FaultEvent) else e for e in run.events
                  if not (isinstance(e, FaultEvent) and e.action.startswith("revert"))]
    del run.meta.phases["revert"]
    tl = timeline_of(run)
    node3 = next(lane for lane in tl.lanes if lane.node == "node3")
    assert [(iv.state, iv.start, iv.end) for iv in node3.fault] == [("off", 20.05, 60.0)]
    assert tl.fault is not None and tl.fault.open and tl.fault.end == 60.0


def test_requests_never_sent_are_not_in_the_bins() -> None:
    requests = [
        RequestRecord(0, 0.00, 0.00, 0.002, "n", "ok"),
        RequestRecord(1, 0.05, None, 0.3, "n", "fail", error=NOT_SENT),
    ]
    bins = request_bins(requests, end=0.2)
    assert (bins.ok, bins.fail, bins.info) == ([1, 0], [0, 0], [0, 0])


def test_a_freeze_has_its_own_colour_on_the_nodes_lane() -> None:
    from pulltheplug.report.figure import FAULT_COLORS, timeline_figure

    run = synthetic_run()
    run.events = [replace(e, kind="freeze") if isinstance(e, FaultEvent) else e for e in run.events]
    run.meta.fault["kind"] = "freeze"
    tl = timeline_of(run)
    node3 = next(lane for lane in tl.lanes if lane.node == "node3")
    assert [(iv.state, iv.start) for iv in node3.fault] == [("frozen", 20.05)]
    fig = timeline_figure(tl)
    (stripe,) = [t for t in fig.data if t.name == "fault:node3"]
    (colour,) = stripe.marker.color
    assert colour == FAULT_COLORS["frozen"]
    assert colour not in (FAULT_COLORS["off"], FAULT_COLORS["nic down"], "#999999")  # not another fault's, not grey
    assert "frozen" in {t.name for t in fig.data}  # its legend entry
