"""The request figures of a summary, from columns (numpy): the same numbers as the per-record functions
(availability, latency, outages, outcomes), made in a few passes of C over millions of requests.

Measured with bench/analysis.py: 10 million requests summarized in seconds where the records as objects took
minutes and gigabytes. tests/analysis/test_request_figures.py holds each figure equal to its per-record twin.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import numpy.typing as npt

from pulltheplug.analysis.availability import Availability
from pulltheplug.analysis.latency import INTERRUPTED, TIMEOUT_ERRORS, Latency, Percentiles, _table, _Values
from pulltheplug.analysis.outages import ALL, OutageWindow
from pulltheplug.analysis.outcomes import Outcomes
from pulltheplug.analysis.phases import PHASES, Phases
from pulltheplug.columns import FAIL, INFO, NONE, OK, RequestColumns
from pulltheplug.naming import sorted_nodes

Mask = npt.NDArray[np.bool_]


def sent_mask(c: RequestColumns) -> Mask:
    return np.asarray(~np.isnan(c.sent))


def phase_codes(due: npt.NDArray[np.float64], phases: Phases) -> npt.NDArray[np.int8]:
    """0 steady, 1 fault, 2 recovery, as Phases.of says for each due time."""
    codes = np.zeros(len(due), np.int8)
    if phases.fault is not None:
        codes[due >= phases.fault] = 1
        if phases.revert is not None:
            codes[due >= phases.revert] = 2
    return codes


def outcomes_of(c: RequestColumns, sent: Mask) -> Outcomes:
    counts = np.bincount(c.outcome[sent], minlength=3)
    return Outcomes(requests=len(c), ok=int(counts[OK]), fail=int(counts[FAIL]), info=int(counts[INFO]),
                    not_sent=int(len(c) - sent.sum()))


def _kind_codes(c: RequestColumns) -> tuple[npt.NDArray[np.int32], list[str]]:
    """outages.error_kind as codes: the error, else "unknown" for info and "failed" for fail."""
    names = [*c.errors, "unknown", "failed"]
    kinds = c.error.copy()
    missing = kinds == NONE
    kinds[missing & (c.outcome == INFO)] = len(c.errors)
    kinds[missing & (c.outcome != INFO)] = len(c.errors) + 1
    return kinds, names


def errors_of(c: RequestColumns, sent: Mask) -> dict[str, int]:
    """Kind -> count over non-ok requests sent, most frequent first (ties: first seen first, as Counter)."""
    kinds, names = _kind_codes(c)
    bad = kinds[sent & (c.outcome != OK)]
    if not len(bad):
        return {}
    codes, first, counts = np.unique(bad, return_index=True, return_counts=True)
    order = sorted(range(len(codes)), key=lambda i: (-counts[i], first[i]))
    return {names[codes[i]]: int(counts[i]) for i in order}


def availability_of(c: RequestColumns, sent: Mask, phases: Phases) -> Availability:
    target = c.target[sent].astype(np.int64)
    phase = phase_codes(c.due[sent], phases).astype(np.int64)
    ok = c.outcome[sent] == OK
    n = len(c.targets)
    due = np.bincount(target * 3 + phase, minlength=n * 3).reshape(n, 3)
    good = np.bincount(target * 3 + phase, weights=ok, minlength=n * 3).reshape(n, 3)

    def ratio(g: float, d: float) -> float | None:
        return float(g / d) if d else None

    present = [i for i in range(n) if due[i].sum()]
    entries = sorted_nodes(c.targets[i] for i in present)
    index = {c.targets[i]: i for i in present}
    return Availability(
        overall=ratio(good.sum(), due.sum()),
        by_phase={p: ratio(good[:, j].sum(), due[:, j].sum()) for j, p in enumerate(PHASES)},
        by_entry={e: ratio(good[index[e]].sum(), due[index[e]].sum()) for e in entries},
        by_entry_phase={e: {p: ratio(good[index[e], j], due[index[e], j]) for j, p in enumerate(PHASES)}
                        for e in entries},
    )


def _values(seconds: npt.NDArray[np.float64], timeouts: int = 0) -> _Values:
    us, counts = np.unique(np.round(seconds * 1e6).astype(np.int64), return_counts=True)
    return _Values(Counter(dict(zip(us.tolist(), counts.tolist(), strict=True))), len(seconds),
                   float(seconds.max()) if len(seconds) else 0.0, timeouts)


def latency_of(c: RequestColumns, sent: Mask, phases: Phases) -> tuple[Latency, Latency]:
    """latency.latency_tables: (every request sent that ended, ok only), by phase of the due time."""
    interrupted = c.errors.index(INTERRUPTED) if INTERRUPTED in c.errors else NONE - 1
    timeout_codes = [i for i, e in enumerate(c.errors) if e in TIMEOUT_ERRORS]
    ended = sent & (c.error != interrupted)
    latency = c.end - c.due
    phase = phase_codes(c.due, phases)
    timed_out = np.isin(c.error, timeout_codes) & (c.outcome != OK)
    every, ok = {}, {}
    for j, p in enumerate(PHASES):
        here = ended & (phase == j)
        every[p] = _values(latency[here], int((here & timed_out).sum()))
        ok[p] = _values(latency[here & (c.outcome == OK)])
    return _table(every), _table(ok)


def client_lag_of(c: RequestColumns, sent: Mask) -> Percentiles | None:
    lag = np.maximum(c.sent[sent] - c.due[sent], 0.0)
    return _values(lag).percentiles()


def _spacing(due: npt.NDArray[np.float64]) -> float:
    """outages.request_spacing: the median gap between distinct due times."""
    distinct = np.unique(due)
    return float(np.median(np.diff(distinct))) if len(distinct) > 1 else 0.0


def _runs(c: RequestColumns, idx: npt.NDArray[np.int64], entry: str, need_all: int = 0) -> list[OutageWindow]:
    """Windows of the stream `idx` (indices in due order): maximal runs of non-ok requests; with `need_all`,
    only the runs in which that many entries failed."""
    if not len(idx):
        return []
    spacing = _spacing(c.due[idx])
    bad = c.outcome[idx] != OK
    edges = np.diff(np.concatenate(([0], bad.astype(np.int8), [0])))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    kinds, names = _kind_codes(c)
    windows = []
    for i, j in zip(starts.tolist(), ends.tolist(), strict=True):
        members = idx[i:j + 1]
        if need_all and len(np.unique(c.target[members])) != need_all:
            continue
        first, last = members[0], members[-1]
        start, end = float(c.due[first]), float(c.due[last]) + spacing
        codes, counts = np.unique(kinds[members], return_counts=True)
        order = np.argsort([np.flatnonzero(kinds[members] == code)[0] for code in codes], kind="stable")
        windows.append(OutageWindow(entry=entry, start=start, end=end, duration=end - start, failed=len(members),
                                    first_k=int(c.k[first]), last_k=int(c.k[last]),
                                    errors={names[codes[o]]: int(counts[o]) for o in order},
                                    open=j == len(idx) - 1))
    return windows


def outage_windows_of(c: RequestColumns, sent: Mask) -> list[OutageWindow]:
    """outages.outage_windows over the requests sent: per entry (natural order), then "all"."""
    order = np.lexsort((c.k, c.due))  # by due, then k
    order = order[sent[order]]
    present = np.unique(c.target[order])
    entries = sorted_nodes(c.targets[i] for i in present)
    windows = []
    for e in entries:
        code = c.targets.index(e)
        windows += _runs(c, order[c.target[order] == code], e)
    return windows + _runs(c, order, ALL, need_all=len(present))
