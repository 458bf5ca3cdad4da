"""Every fault of a run as an interval of the history (one for a single fault, several for a schedule), with
the outage windows each one overlaps: which fault the users' outages belong to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pulltheplug.analysis.outages import OutageWindow
from pulltheplug.record import Event


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


def fault_intervals(events: Sequence[Event], windows: Sequence[OutageWindow], run_end: float) -> list[FaultInterval]:
    """From the fault events: "inject" starts an interval, "reverted" ends it (events without an id are the
    single fault of older runs: id 0)."""
    started: dict[int, Event] = {}
    ended: dict[int, float] = {}
    for e in sorted((e for e in events if e.type == "fault"), key=lambda e: e.t):
        fid = int(e.data.get("id", 0))
        action = e.data.get("action")
        if action == "inject" and fid not in started:
            started[fid] = e
        elif action == "reverted" and fid in started:
            ended[fid] = e.t
    out = []
    for fid, e in sorted(started.items(), key=lambda kv: kv[1].t):
        end = ended.get(fid, run_end)
        overlapping = [w for w in windows if w.start < end and w.end > e.t]
        node = str(e.data.get("node", ""))
        out.append(FaultInterval(
            id=fid, kind=str(e.data.get("kind", "")), node=node, nodes=[str(n) for n in e.data.get("nodes", [node])],
            start=e.t, end=end, open=fid not in ended,
            outages=[(w.entry, w.start, w.duration) for w in overlapping],
            outage_seconds=sum(w.duration for w in overlapping)))
    return out
