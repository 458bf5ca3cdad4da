"""The timeline of a run, as plain data: requests per 100 ms, node lanes, markers, shaded windows.

Pure: built from the records alone (a `Run`), so a report can be redrawn anywhere. Times are seconds
since the run's start, like the records.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal

import numpy as np

from pulltheplug.analysis import ControlPlaneWindow, control_plane_windows, phases_of
from pulltheplug.analysis.percentile import rank
from pulltheplug.naming import node_sort_key
from pulltheplug.records.columns import FAIL, INFO, OK, RequestColumns
from pulltheplug.records.events import Event, FaultEvent, LeaderEvent, NodeEvent, TaskEvent, of_type
from pulltheplug.records.model import Meta, Run

BIN_WIDTH = 0.1  # seconds: fine enough to see a 1 s outage, coarse enough for a 10 min run
_EPS = 1e-9  # k / rate / width lands a hair under an integer in floating point

# The swarm's node states, as a lane shows them; "disconnected" is the managers losing the node too.
LANE_STATE = {"ready": "ready", "down": "down", "unknown": "unknown", "disconnected": "down"}
# What each fault kind does to its node, as the node's lane shows it (the figure colours each effect).
FAULT_EFFECT = {"reboot": "off", "power-loss": "off", "nic-down": "nic down", "freeze": "frozen",
                "partition": "cut off", "loss": "lossy", "flap": "flapping", "engine-crash": "engine down",
                "task-kill": "task killed", "quorum-loss": "off"}


@dataclass(frozen=True, slots=True)
class Bins:
    """Requests by due time in bins of `width` seconds; latency (ok requests only, from due) in ms."""

    width: float
    start: list[float]
    ok: list[int]
    fail: list[int]
    info: list[int]
    p50_ms: list[float | None]
    p99_ms: list[float | None]


@dataclass(frozen=True, slots=True)
class Interval:
    start: float
    end: float
    state: str  # lanes: ready | down | unknown; fault: off | nic down | frozen; leader: leader
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Lane:
    """One node: what the managers said of it (`states`), what the fault did to it, when it led."""

    node: str
    role: str
    address: str
    states: list[Interval]
    fault: list[Interval]
    leader: list[Interval]


@dataclass(frozen=True, slots=True)
class Marker:
    t: float
    kind: Literal["leader", "task"]
    node: str | None  # the new leader, or the node a task moved to
    label: str


@dataclass(frozen=True, slots=True)
class FaultSpan:
    """From "inject" to "revert"; `open`: never reverted, so it lasts to the run's end."""

    start: float
    end: float
    open: bool
    label: str


@dataclass(frozen=True, slots=True)
class Timeline:
    end: float
    bins: Bins
    lanes: list[Lane]
    markers: list[Marker]
    control_plane: list[ControlPlaneWindow]
    fault: FaultSpan | None  # the whole fault phase
    faults: list[FaultSpan] = field(default_factory=list)  # each fault of a schedule


def _bin_index(t: float, width: float) -> int:
    return max(math.floor(t / width + _EPS), 0)


def _node_detail(e: NodeEvent) -> str:
    parts = [e.state]
    for key, value in (("availability", e.availability), ("manager", e.manager)):
        if value:
            parts.append(f"{key} {value}")
    return ", ".join(parts)


def state_intervals(events: Sequence[Event], node: str, end: float) -> list[Interval]:
    """Each node event starts an interval lasting to the next one (or `end`); repeats are merged."""
    out: list[Interval] = []
    for e in of_type(events, NodeEvent):
        if e.node != node:
            continue
        state = LANE_STATE.get(e.state, "unknown")
        detail = _node_detail(e)
        if out and out[-1].state == state and out[-1].detail == detail:
            continue
        if out:
            out[-1] = Interval(out[-1].start, e.t, out[-1].state, out[-1].detail)
        out.append(Interval(e.t, end, state, detail))
    return out


def leader_intervals(events: Sequence[Event], end: float) -> dict[str, list[Interval]]:
    """Node -> the spans it was the leader, from each leader event to the next (or `end`)."""
    spans: dict[str, list[Interval]] = {}
    leaders = of_type(events, LeaderEvent)
    ends = [e.t for e in leaders[1:]] + [end]
    for e, until in zip(leaders, ends, strict=False):
        if e.node:
            spans.setdefault(e.node, []).append(Interval(e.t, until, "leader"))
    return spans


def fault_bands(events: Sequence[Event], end: float) -> dict[str, list[Interval]]:
    """Node -> spans a fault held it: off (reboot, power-loss), nic down, frozen..., from injected to reverted,
    on every node the fault touched (a partition's sides, a quorum loss's managers).

    "inject" stands in when "injected" is missing (the inject failed half way but a revert is owed).
    """
    spans: dict[str, list[Interval]] = {}
    held: dict[tuple[int, str], tuple[float, str]] = {}  # (fault id, node) -> (since, fault kind)
    for e in of_type(events, FaultEvent):
        action, kind, fid = e.action, e.kind, e.id
        for node in e.touched:
            if action in ("inject", "injected"):
                held[(fid, node)] = (e.t, kind)  # "injected", once it comes, is when the effect began
            elif action == "reverted" and (fid, node) in held:
                since, kind = held.pop((fid, node))
                spans.setdefault(node, []).append(Interval(since, e.t, _fault_state(kind), kind))
    for (_, node), (since, kind) in held.items():
        spans.setdefault(node, []).append(Interval(since, end, _fault_state(kind), f"{kind}, never reverted"))
    return spans


def _fault_state(kind: str) -> str:
    return FAULT_EFFECT.get(kind, kind)


def markers(events: Sequence[Event]) -> list[Marker]:
    """Leader changes (every leader event but the first sighting) and task moves.

    A task move is a task seen for the first time after the first snapshot of the tasks, or a task that
    starts running; the first snapshot itself is where things stood, not a move.
    """
    out: list[Marker] = []
    for change in of_type(events, LeaderEvent)[1:]:
        new, old = change.node, change.previous
        out.append(Marker(change.t, "leader", new or old, f"leader {old or 'none'} \u2192 {new or 'none'}"))
    tasks = of_type(events, TaskEvent)
    first = tasks[0].t if tasks else 0.0
    state: dict[str, str] = {}
    for e in tasks:
        task, now, node = e.task, e.state, e.node or None
        before = state.get(task)
        state[task] = now
        if e.t <= first:
            continue
        short = task[:10]
        if before is None:
            out.append(Marker(e.t, "task", node, f"task {short} new on {node} ({now})"))
        elif now == "running" and before != "running":
            out.append(Marker(e.t, "task", node, f"task {short} running on {node}"))
    return sorted(out, key=lambda m: m.t)


def fault_span(meta: Meta, inject: float | None, revert: float | None, end: float) -> FaultSpan | None:
    if inject is None:
        return None
    fault = meta.fault
    if fault.get("kind") == "schedule":
        label = f"schedule of {len(fault.get('schedule', []))} faults"
    else:
        label = f"{fault.get('kind', 'fault')} on {fault.get('node', '?')}"
    return FaultSpan(inject, revert if revert is not None else end, revert is None, label)


def schedule_spans(events: Sequence[Event], end: float) -> list[FaultSpan]:
    """Each fault of a run, from its inject to its revert (a single fault gives one)."""
    starts: dict[int, FaultEvent] = {}
    spans: dict[int, FaultSpan] = {}
    for e in of_type(events, FaultEvent):
        fid = e.id
        if e.action == "inject":
            starts.setdefault(fid, e)
        elif e.action == "revert" and fid in starts:
            spans[fid] = FaultSpan(starts[fid].t, e.t, False, f"{fid + 1}: {e.kind} on {e.node}")
    for fid, e in starts.items():
        if fid not in spans:
            spans[fid] = FaultSpan(e.t, end, True, f"{fid + 1}: {e.kind} on {e.node}")
    return [spans[k] for k in sorted(spans, key=lambda k: spans[k].start)]


def _node_names(meta: Meta, events: Sequence[Event]) -> list[tuple[str, str, str]]:
    """(name, role, address) of the cluster's nodes and of nodes only the events name, in natural order."""
    known = [(str(n.get("name")), str(n.get("role", "")), str(n.get("address", "")))
             for n in meta.cluster.get("nodes", []) if isinstance(n, dict)]
    names = {n for n, _, _ in known}
    seen = {e.node for e in events if isinstance(e, NodeEvent) and e.node} - names
    return sorted(known + [(n, "", "") for n in seen], key=lambda node: node_sort_key(node[0]))


def column_bins(c: RequestColumns, end: float, width: float = BIN_WIDTH) -> Bins:
    """Bins cover [0, end) and every due time; a request counts in the bin of its due time (sent ones only: the
    service never saw the others). Counts by bincount, percentiles by one sort of (bin, latency)."""
    sent = ~np.isnan(c.sent)
    index = np.maximum(np.floor(c.due / width + _EPS), 0).astype(np.int64)
    last = int(index.max()) if len(index) else -1
    n = max(math.ceil(end / width - _EPS), last + 1, 0)
    counts = [np.bincount(index[sent & (c.outcome == code)], minlength=n).tolist() for code in (OK, FAIL, INFO)]
    ok = sent & (c.outcome == OK)
    bins, ms = index[ok], (c.end[ok] - c.due[ok]) * 1000.0
    order = np.lexsort((ms, bins))
    bins, ms = bins[order], ms[order]
    first = np.searchsorted(bins, np.arange(n), side="left")
    size = np.searchsorted(bins, np.arange(n), side="right") - first
    p50: list[float | None] = []
    p99: list[float | None] = []
    for i in range(n):
        if size[i]:  # nearest rank (analysis.percentile)
            p50.append(float(ms[first[i] + rank(int(size[i]), 50)]))
            p99.append(float(ms[first[i] + rank(int(size[i]), 99)]))
        else:
            p50.append(None)
            p99.append(None)
    return Bins(width, [round(i * width, 6) for i in range(n)], counts[0], counts[1], counts[2], p50, p99)


def timeline_of(run: Run, width: float = BIN_WIDTH) -> Timeline:
    """From the columns when the run was read as columns (millions of requests), else from the records."""
    c = run.columns
    phases = phases_of(run.meta, c.latest() if c is not None else run.requests, run.events)
    last_due = float(c.due.max()) if c is not None and len(c) else max((r.due for r in run.requests), default=0.0)
    end = max(phases.end, last_due)
    bins = column_bins(c if c is not None else RequestColumns.from_records(run.requests), end, width)
    return timeline_from(run.meta, run.events, bins, end)


def timeline_from(meta: Meta, events: Sequence[Event], bins: Bins, end: float) -> Timeline:
    """The timeline from requests already binned (a live run bins them as they come) and the events."""
    phases = phases_of(meta, [], events)
    leaders = leader_intervals(events, end)
    faults = fault_bands(events, end)
    lanes = [
        Lane(name, role, address, state_intervals(events, name, end), faults.get(name, []),
             leaders.get(name, []))
        for name, role, address in _node_names(meta, events)
    ]
    return Timeline(
        end=end,
        bins=bins,
        lanes=lanes,
        markers=markers(events),
        control_plane=control_plane_windows(events, end),
        fault=fault_span(meta, phases.fault, phases.revert, end),
        faults=schedule_spans(events, end),
    )
