"""Outage windows: maximal runs of consecutive failed requests, per entry point and for all entries.

A window can only be known to within one request spacing, so its end is the last failure plus the
stream's spacing: that is the earliest the next (ok) request could have told us otherwise.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise
from statistics import median

from pulltheplug.naming import sorted_nodes
from pulltheplug.records.model import RequestRecord

ALL = "all"


@dataclass(frozen=True, slots=True)
class OutageWindow:
    """`open`: the stream's last request failed, so the outage was still on when the run ended."""

    entry: str
    start: float
    end: float
    duration: float
    failed: int
    first_k: int
    last_k: int
    errors: dict[str, int]
    open: bool


def request_spacing(requests: Sequence[RequestRecord]) -> float:
    """Median gap between distinct due times (0.0 with fewer than two): the stream's resolution."""
    dues = sorted({r.due for r in requests})
    gaps = [b - a for a, b in pairwise(dues)]
    return median(gaps) if gaps else 0.0


def error_kind(r: RequestRecord) -> str:
    return r.error or ("unknown" if r.outcome == "info" else "failed")


def _window(entry: str, run: Sequence[RequestRecord], spacing: float, is_open: bool) -> OutageWindow:
    start, end = run[0].due, run[-1].due + spacing
    return OutageWindow(
        entry=entry,
        start=start,
        end=end,
        duration=end - start,
        failed=len(run),
        first_k=run[0].k,
        last_k=run[-1].k,
        errors=dict(Counter(error_kind(r) for r in run)),
        open=is_open,
    )


def failure_runs(ordered: Sequence[RequestRecord]) -> list[tuple[list[RequestRecord], bool]]:
    """Maximal runs of consecutive non-ok requests, each with whether it reaches the stream's end."""
    runs: list[tuple[list[RequestRecord], bool]] = []
    run: list[RequestRecord] = []
    for r in ordered:
        if r.outcome != "ok":
            run.append(r)
        elif run:
            runs.append((run, False))
            run = []
    if run:
        runs.append((run, True))
    return runs


def _by_due(requests: Sequence[RequestRecord]) -> list[RequestRecord]:
    return sorted(requests, key=lambda r: (r.due, r.k))


def stream_windows(entry: str, requests: Sequence[RequestRecord]) -> list[OutageWindow]:
    """The windows of one entry's stream of requests (any order; sorted here by due time)."""
    ordered = _by_due(requests)
    spacing = request_spacing(ordered)
    return [_window(entry, run, spacing, is_open) for run, is_open in failure_runs(ordered)]


def all_entries_windows(requests: Sequence[RequestRecord]) -> list[OutageWindow]:
    """Runs of the merged stream in which every entry failed at least once: the service was down for all.

    A lone failure between other entries' ok requests is a run too; it is not an outage of everything.
    """
    ordered = _by_due(requests)
    spacing = request_spacing(ordered)
    entries = {r.target for r in ordered}
    return [
        _window(ALL, run, spacing, is_open)
        for run, is_open in failure_runs(ordered)
        if {r.target for r in run} == entries
    ]


def outage_windows(requests: Sequence[RequestRecord]) -> list[OutageWindow]:
    """Per entry (in natural order of entry names), then "all": where every request, whatever its entry, failed."""
    entries = sorted_nodes({r.target for r in requests})
    windows = [w for e in entries for w in stream_windows(e, [r for r in requests if r.target == e])]
    return windows + all_entries_windows(requests)


def longest_outage(windows: Sequence[OutageWindow]) -> float:
    return max((w.duration for w in windows), default=0.0)
