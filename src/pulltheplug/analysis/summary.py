"""The summary of a run: everything the verdict and the report need, as plain JSON-ready data."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, replace
from typing import Any

from pulltheplug.analysis.availability import Availability
from pulltheplug.analysis.baseline import baseline_warnings, not_whole_at_start
from pulltheplug.analysis.control_plane import ControlPlaneWindow, control_plane_windows
from pulltheplug.analysis.door import DoorFigures, door_figures
from pulltheplug.analysis.findings import Finding, History, findings
from pulltheplug.analysis.intervals import FaultInterval, fault_intervals, with_figures
from pulltheplug.analysis.latency import Percentiles
from pulltheplug.analysis.outages import OutageWindow, longest_outage
from pulltheplug.analysis.outcomes import Outcomes
from pulltheplug.analysis.phases import Phases, phases_of
from pulltheplug.analysis.request_figures import (
    answered_before,
    availability_of,
    client_lag_of,
    errors_of,
    latency_of,
    outage_windows_of,
    outcomes_of,
    sent_mask,
)
from pulltheplug.analysis.timings import Detection, Recovery, time_to_detect, time_to_recover
from pulltheplug.analysis.windowed import (
    DegradedSpan,
    WindowedAvailability,
    degraded_spans,
    window_sizes,
    windowed_figures,
)
from pulltheplug.records.columns import RequestColumns
from pulltheplug.records.events import Event, RunEvent
from pulltheplug.records.model import Meta, Run


@dataclass(frozen=True, slots=True)
class FaultInfo:
    """`start` is when the fault began to act (None: no fault); `reverted` False: it lasted to the end."""

    kind: str | None
    node: str | None
    target: str | None
    start: float | None
    reverted: bool


@dataclass(frozen=True, slots=True)
class Summary:
    name: str
    status: str  # complete | interrupted | failed
    error: str | None  # why a failed run failed (Meta.error)
    fault: FaultInfo
    phases: Phases
    duration: float
    rate: float | None  # requested (spec), requests per second
    achieved_rate: float | None  # requests due per second of run
    outcomes: Outcomes
    errors: dict[str, int]
    availability: Availability
    outages: list[OutageWindow]
    longest_outage: float
    detect: Detection
    recover: Recovery
    control_plane: list[ControlPlaneWindow]
    latency_all: dict[str, Percentiles | None]  # every request that ended (see analysis.latency)
    latency_ok: dict[str, Percentiles | None]  # ok requests only
    client_lag: Percentiles | None
    warnings: list[str]  # reasons to distrust the measurement itself (see analysis.baseline)
    door: DoorFigures | None = None  # the front door's figures (None: requests went straight to the nodes)
    faults: list[FaultInterval] = field(default_factory=list)  # every fault's interval, with its outages
    findings: list[Finding] = field(default_factory=list)  # every rule's answer (analysis.findings), RULES order
    # what users felt window by window (analysis.windowed): the worst window per size, overall and per entry;
    # 1 s bins with a failure; the span of failures the fault began. Empty / None: a summary made before them
    windowed_availability: list[WindowedAvailability] = field(default_factory=list)
    windowed_availability_by_entry: dict[str, list[WindowedAvailability]] = field(default_factory=dict)
    error_seconds: int | None = None
    error_seconds_by_entry: dict[str, int] = field(default_factory=dict)
    degraded_span: DegradedSpan | None = None
    # the cluster's kind (lab, ssh; "none": `pulltheplug load`, no cluster); None: a summary made before it
    cluster: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def run_status(meta: Meta, events: list[Event]) -> str:
    """A run still "running" on disk was cut short (killed): that is interrupted too."""
    interrupted = any(isinstance(e, RunEvent) and e.action == "interrupted" for e in events)
    if meta.status in ("complete", "failed") and not interrupted:
        return meta.status
    return "interrupted"


def _number(x: object) -> float | None:
    return float(x) if isinstance(x, int | float) and not isinstance(x, bool) else None


def _desired_replicas(meta: Meta) -> int | None:
    replicas = meta.workload.get("replicas")
    return int(replicas) if isinstance(replicas, int | float) and not isinstance(replicas, bool) else None


def summarize(run: Run) -> Summary:
    """Requests never sent (the run was stopped first) are only counted: the service never saw them.

    The request figures come from columns (`request_figures`), as fast for ten million requests as for ten.
    """
    meta, events = run.meta, run.events
    columns = run.columns if run.columns is not None else RequestColumns.from_records(run.requests)
    is_sent = sent_mask(columns)
    phases = phases_of(meta, columns.latest(), events)
    start = phases.fault  # the one fault start every figure is measured from
    windows = outage_windows_of(columns, is_sent)
    windowed = windowed_figures(columns, is_sent, window_sizes(meta.analysis, meta.slo), start)
    duration = phases.end - phases.steady
    rate = meta.load.get("rate")
    avail = availability_of(columns, is_sent, phases)
    lag = client_lag_of(columns, is_sent)
    latency_all, latency_ok = latency_of(columns, is_sent, phases)
    door = None
    if meta.door:  # the door's figures look at requests one by one: a door run is minutes long, not millions
        sent = [r for r in run.requests if r.was_sent] if run.requests else columns.records(is_sent)
        door = door_figures(meta.door, meta.fault.get("node"), start, phases.revert, sent, events)
    summary = Summary(
        name=meta.name,
        status=run_status(meta, events),
        error=meta.error,
        fault=FaultInfo(
            kind=meta.fault.get("kind"),
            node=meta.fault.get("node"),
            target=meta.fault.get("target"),
            start=start,
            reverted=phases.revert is not None,
        ),
        phases=phases,
        duration=duration,
        rate=float(rate) if isinstance(rate, int | float) else None,
        achieved_rate=len(columns) / duration if duration > 0 else None,
        outcomes=outcomes_of(columns, is_sent),
        errors=errors_of(columns, is_sent),
        availability=avail,
        outages=windows,
        longest_outage=longest_outage(windows),
        detect=time_to_detect(events, meta.fault.get("node"), start, phases.revert),
        recover=time_to_recover(events, windows, meta.fault, start, phases.revert, _desired_replicas(meta),
                                ignore_below=ignore_below(meta)),
        control_plane=control_plane_windows(events, phases.end),
        latency_all=latency_all,
        latency_ok=latency_ok,
        client_lag=lag,
        warnings=baseline_warnings(avail, lag, float(rate) if isinstance(rate, int | float) else None,
                                   _number(meta.load.get("capacity")),
                                   had_fault=meta.fault.get("kind") not in (None, "none"))
        + not_whole_at_start(events, start),
        door=door,
        faults=fault_intervals(events, windows, phases.end),
        windowed_availability=windowed.overall,
        windowed_availability_by_entry=windowed.by_entry,
        error_seconds=windowed.error_seconds,
        error_seconds_by_entry=windowed.error_seconds_by_entry,
        degraded_span=windowed.degraded_span,
        cluster=str(meta.cluster.get("kind")) if meta.cluster.get("kind") else None,
    )
    answered = answered_before(columns, is_sent, windows, phases.revert) if phases.revert is not None else {}
    history = History(meta, events, start, phases.revert, phases.end, summary.outages, summary.control_plane,
                      summary.detect, summary.recover, summary.warnings, answered)
    faults = with_figures(summary.faults, history, _desired_replicas(meta), _targets(meta), ignore_below(meta))
    spans = degraded_spans(columns, is_sent, [f.start for f in faults])
    faults = [replace(f, degraded_span=span) for f, span in zip(faults, spans, strict=True)]
    summary = replace(summary, faults=faults, findings=findings(history))
    if len(faults) > 1 and faults[0].detect is not None and faults[0].recover is not None:
        # a schedule has no one node for the run's own detect/recover: they are its first fault's
        summary = replace(summary, detect=faults[0].detect, recover=faults[0].recover,
                          degraded_span=faults[0].degraded_span)
    return summary


def ignore_below(meta: Meta) -> int:
    """`analysis.recovery.ignore_below` of the run (0, exact, for runs made before it existed)."""
    recovery = meta.analysis.get("recovery")
    value = recovery.get("ignore_below") if isinstance(recovery, dict) else None
    return value if isinstance(value, int) else 0


def _targets(meta: Meta) -> dict[int, str]:
    """Fault id -> what the spec aimed it at: each slot of a schedule, or the one fault (id 0)."""
    slots = meta.fault.get("schedule")
    if isinstance(slots, list):
        return {int(x["id"]): str(x["target"]) for x in slots if isinstance(x, dict) and "target" in x and "id" in x}
    target = meta.fault.get("target")
    return {0: str(target)} if target else {}
