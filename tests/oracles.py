"""Oracles: the figures computed request by request, the plain way, for tests to hold the fast column code
(analysis/request_figures.py) against. Never used by pulltheplug itself."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from itertools import pairwise
from statistics import median

from pulltheplug.analysis.availability import FAULTED, Availability
from pulltheplug.analysis.latency import INTERRUPTED, TIMEOUT_ERRORS, Latency, Percentiles, _table, _Values, percentiles
from pulltheplug.analysis.outages import ALL, OutageWindow, error_kind
from pulltheplug.analysis.outcomes import Outcomes
from pulltheplug.analysis.percentile import nearest_rank
from pulltheplug.analysis.phases import PHASES, Phase, Phases
from pulltheplug.naming import sorted_nodes
from pulltheplug.records.model import RequestRecord
from pulltheplug.report.timeline import _EPS, BIN_WIDTH, Bins, _bin_index


def availability(requests: Sequence[RequestRecord], phases: Phases) -> Availability:
    """Every request record is due once; a request belongs to the phase of its due time."""
    entries = sorted_nodes({r.target for r in requests})
    due: Counter[tuple[str | None, str | None]] = Counter()
    ok: Counter[tuple[str | None, str | None]] = Counter()
    for r in requests:  # one pass; every request counts in its (entry, phase) and in the totals
        phase = phases.of(r.due)
        keys: list[tuple[str | None, str | None]] = [(r.target, phase), (r.target, None), (None, phase), (None, None)]
        if phase != "steady":
            keys.append((None, FAULTED))
        for key in keys:
            due[key] += 1
            ok[key] += r.outcome == "ok"

    def ratio(entry: str | None, phase: str | None) -> float | None:
        n = due[(entry, phase)]
        return ok[(entry, phase)] / n if n else None

    return Availability(
        overall=ratio(None, None),
        by_phase={p: ratio(None, p) for p in PHASES},
        by_entry={e: ratio(e, None) for e in entries},
        by_entry_phase={e: {p: ratio(e, p) for p in PHASES} for e in entries},
        faulted=ratio(None, FAULTED),
    )


def latency_tables(requests: Sequence[RequestRecord], phases: Phases) -> tuple[Latency, Latency]:
    """(every request sent that ended, ok requests only), by phase, in one pass over the requests.

    "Every request" is ok, fail and info (a timeout at its end), not the ones the run cut short or never sent.
    """
    every: dict[Phase, list[float]] = {p: [] for p in PHASES}
    ok: dict[Phase, list[float]] = {p: [] for p in PHASES}
    timeouts: Counter[Phase] = Counter()
    for r in requests:
        if r.sent is None or r.error == INTERRUPTED:
            continue
        phase = phases.of(r.due)
        latency = r.end - r.due
        every[phase].append(latency)
        if r.outcome == "ok":
            ok[phase].append(latency)
        elif r.error in TIMEOUT_ERRORS:
            timeouts[phase] += 1
    return (_table({p: _Values.of(v, timeouts[p]) for p, v in every.items()}),
            _table({p: _Values.of(v) for p, v in ok.items()}))


def client_lag(requests: Sequence[RequestRecord]) -> Percentiles | None:
    """sent - due over every request sent: large values mean the client, not the service, was slow."""
    return percentiles(max(r.sent - r.due, 0.0) for r in requests if r.sent is not None)


def request_spacing(requests: Sequence[RequestRecord]) -> float:
    """Median gap between distinct due times (0.0 with fewer than two): the stream's resolution."""
    dues = sorted({r.due for r in requests})
    gaps = [b - a for a, b in pairwise(dues)]
    return median(gaps) if gaps else 0.0


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


def outcome_counts(requests: Sequence[RequestRecord]) -> Outcomes:
    c = Counter(r.outcome for r in requests if r.was_sent)
    not_sent = sum(not r.was_sent for r in requests)
    return Outcomes(requests=len(requests), ok=c["ok"], fail=c["fail"], info=c["info"], not_sent=not_sent)


def errors_by_kind(requests: Sequence[RequestRecord]) -> dict[str, int]:
    """Error kind -> count over non-ok requests, most frequent first."""
    return dict(Counter(error_kind(r) for r in requests if r.outcome != "ok").most_common())


def request_bins(requests: Sequence[RequestRecord], end: float, width: float = BIN_WIDTH) -> Bins:
    """report.timeline.column_bins, request by request."""
    last = max((_bin_index(r.due, width) for r in requests), default=-1)
    n = max(math.ceil(end / width - _EPS), last + 1, 0)
    ok, fail, info = [0] * n, [0] * n, [0] * n
    latencies: list[list[float]] = [[] for _ in range(n)]
    counts = {"ok": ok, "fail": fail, "info": info}
    for r in requests:
        if not r.was_sent:
            continue  # the service never saw it: no outcome to show
        i = _bin_index(r.due, width)
        counts[r.outcome][i] += 1
        if r.outcome == "ok":
            latencies[i].append(r.latency * 1000.0)
    p50: list[float | None] = []
    p99: list[float | None] = []
    for values in latencies:
        values.sort()
        p50.append(nearest_rank(values, 50) if values else None)
        p99.append(nearest_rank(values, 99) if values else None)
    return Bins(width, [round(i * width, 6) for i in range(n)], ok, fail, info, p50, p99)
