"""Every fault of a run as an interval of the history (one for a single fault, several for a schedule), with
the outage windows each one overlaps (which fault the users' outages belong to) and its own figures.

A schedule puts each effect on the fault it most likely came from: an effect on a node (lost, Ready again) on
the latest fault on that node started before it; an effect on the whole cluster (a new leader, replicas back,
requests healthy) on the latest fault of any node started before it. So a fault's figures stop at the next
fault's start (on its node, or at all): None there means "not before the next fault", not "never".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from pulltheplug.analysis.findings import FaultScope, Finding, History, findings
from pulltheplug.analysis.outages import OutageWindow
from pulltheplug.analysis.timings import Detection, Recovery, time_to_detect, time_to_recover
from pulltheplug.analysis.windowed import DegradedSpan
from pulltheplug.records.events import Event, FaultEvent, of_type


@dataclass(frozen=True, slots=True)
class FaultInterval:
    """From its inject to its revert (`open`: never reverted, so to the run's end). `outages`: the windows that
    overlap it, as (entry, start, duration); `outage_seconds`: their total length."""

    id: int
    kind: str
    node: str
    nodes: list[str]
    start: float
    end: float
    open: bool
    outages: list[tuple[str, float, float]] = field(default_factory=list)
    outage_seconds: float = 0.0
    revert: float | None = None  # its "revert" event: where its recovery figures count from (`end` is "reverted")
    target: str | None = None  # what the spec aimed it at (leader, worker, ...), from Meta.fault
    detect: Detection | None = None  # None: a summary written before faults had figures of their own
    recover: Recovery | None = None
    findings: list[Finding] = field(default_factory=list)  # the rules about one fault (FAULT_CHECKERS), for it
    degraded_span: DegradedSpan | None = None  # its own failures (analysis.windowed), up to the next fault's start

    @property
    def label(self) -> str:
        """kind@target, as a campaign names a scenario."""
        return f"{self.kind}@{self.target or self.node}"


def fault_intervals(events: Sequence[Event], windows: Sequence[OutageWindow], run_end: float) -> list[FaultInterval]:
    """From the fault events: "inject" starts an interval, "reverted" ends it (events without an id are the
    single fault of older runs: id 0)."""
    started: dict[int, FaultEvent] = {}
    ended: dict[int, float] = {}
    reverts: dict[int, float] = {}
    for e in of_type(events, FaultEvent):
        fid, action = e.id, e.action
        if action == "inject" and fid not in started:
            started[fid] = e
        elif action == "revert" and fid in started and fid not in reverts:
            reverts[fid] = e.t
        elif action == "reverted" and fid in started:
            ended[fid] = e.t
    out = []
    for fid, e in sorted(started.items(), key=lambda kv: kv[1].t):
        end = ended.get(fid, run_end)
        overlapping = [w for w in windows if w.start < end and w.end > e.t]
        out.append(FaultInterval(
            id=fid, kind=e.kind, node=e.node, nodes=list(e.touched),
            start=e.t, end=end, open=fid not in ended,
            outages=[(w.entry, w.start, w.duration) for w in overlapping],
            outage_seconds=sum(w.duration for w in overlapping), revert=reverts.get(fid)))
    return out


def _next_start(intervals: Sequence[FaultInterval], f: FaultInterval, on_its_nodes: bool) -> float | None:
    """The start of the first fault after `f` (on one of its nodes, if asked); None: there is none."""
    later = [g.start for g in intervals if g.start > f.start and g.id != f.id
             and (not on_its_nodes or set(g.nodes) & set(f.nodes))]
    return min(later, default=None)


def with_figures(intervals: Sequence[FaultInterval], run: History, desired: int | None,
                 targets: dict[int, str] | None = None, ignore_below: int = 0) -> list[FaultInterval]:
    """Each fault with its own detect, recover and findings; `run` is the run's history (its meta, events and
    windows; its revert stands in for a lone fault whose revert event is missing), `targets` maps ids to targets,
    `ignore_below` is `analysis.recovery.ignore_below`."""
    out = []
    for f in intervals:
        revert = f.revert if f.revert is not None or len(intervals) > 1 else run.revert
        until = _next_start(intervals, f, on_its_nodes=True)
        cluster_until = _next_start(intervals, f, on_its_nodes=False)
        node = f.node or None
        detect = time_to_detect(run.events, node, f.start, revert, until=until, leader_until=cluster_until)
        recover = time_to_recover(run.events, run.outages, {"node": node}, f.start, revert, desired,
                                  until=until, cluster_until=cluster_until, ignore_below=ignore_below)
        horizon = math.inf if cluster_until is None else cluster_until
        scoped = replace(run, fault_start=f.start, revert=revert, detect=detect, recover=recover,
                         scope=FaultScope(f.kind, f.node, horizon))
        out.append(replace(f, detect=detect, recover=recover, findings=findings(scoped),
                           target=(targets or {}).get(f.id, f.target)))
    return out
