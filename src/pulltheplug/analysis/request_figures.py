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
from pulltheplug.naming import sorted_nodes
from pulltheplug.records.columns import FAIL, INFO, NONE, OK, RequestColumns

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
    n = len(c.targets)
    key = c.target * np.int32(3) + phase_codes(c.due, phases)  # entry x phase, one int32 a request
    due = np.bincount(key[sent], minlength=n * 3).reshape(n, 3)
    good = np.bincount(key[sent & (c.outcome == OK)], minlength=n * 3).reshape(n, 3)
    del key

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
        faulted=ratio(good[:, 1:].sum(), due[:, 1:].sum()),
    )


def _values(seconds: npt.NDArray[np.float64], timeouts: int = 0, max_s: float | None = None) -> _Values:
    """latency._Values of `seconds`, or of whole microseconds already (`max_s` given: the exact maximum)."""
    if max_s is None:
        max_s = float(seconds.max()) if len(seconds) else 0.0
        seconds = np.round(seconds * 1e6)
    us, counts = np.unique(seconds, return_counts=True)
    return _Values(Counter(dict(zip(us.astype(np.int64).tolist(), counts.tolist(), strict=True))), len(seconds),
                   max_s, timeouts)


def latency_of(c: RequestColumns, sent: Mask, phases: Phases) -> tuple[Latency, Latency]:
    """latency.latency_tables: (every request sent that ended, ok only), by phase of the due time."""
    interrupted = c.errors.index(INTERRUPTED) if INTERRUPTED in c.errors else NONE - 1
    timeout_codes = [i for i, e in enumerate(c.errors) if e in TIMEOUT_ERRORS]
    ended = sent & (c.error != interrupted)
    phase = phase_codes(c.due, phases)
    timed_out = np.isin(c.error, timeout_codes) & (c.outcome != OK)
    is_ok = c.outcome == OK
    latency = c.end - c.due
    maxima = {}
    for j in range(len(PHASES)):  # the exact maxima, in seconds, before the values become whole microseconds
        here = ended & (phase == j)
        maxima[j] = (float(latency[here].max()) if here.any() else 0.0,
                     float(latency[here & is_ok].max()) if (here & is_ok).any() else 0.0)
    latency *= 1e6
    np.round(latency, out=latency)  # microseconds, as latency._Values counts them, in place: no second copy
    every, ok = {}, {}
    for j, p in enumerate(PHASES):
        here = ended & (phase == j)
        every[p] = _values(latency[here], int((here & timed_out).sum()), maxima[j][0])
        ok[p] = _values(latency[here & is_ok], max_s=maxima[j][1])
    return _table(every), _table(ok)


def client_lag_of(c: RequestColumns, sent: Mask) -> Percentiles | None:
    lag = c.sent - c.due
    lag = lag[sent]
    np.maximum(lag, 0.0, out=lag)
    return _values(lag).percentiles()


def spacing_of(due: npt.NDArray[np.float64]) -> float:
    """outages.request_spacing: the median gap between distinct due times (`due` sorted), found by partitioning
    the gaps in place: the zero gaps (repeated due times) sort first and are skipped, with no second copy."""
    gaps = np.diff(due)
    zeros = len(gaps) - int(np.count_nonzero(gaps))
    m = len(gaps) - zeros
    if not m:
        return 0.0
    middle = zeros + m // 2
    if m % 2:
        gaps.partition(middle)
        return float(gaps[middle])
    gaps.partition([middle - 1, middle])
    return float((gaps[middle - 1] + gaps[middle]) / 2)


def _runs(c: RequestColumns, idx: npt.NDArray[np.int64], entry: str, kinds: npt.NDArray[np.int32], names: list[str],
          need_all: int = 0, due: npt.NDArray[np.float64] | None = None) -> list[OutageWindow]:
    """Windows of the stream `idx` (indices in due order): maximal runs of non-ok requests; with `need_all`,
    only the runs in which that many entries failed. `kinds`: error kind codes (`_kind_codes`); `due`: c.due[idx],
    when the caller has it already."""
    if not len(idx):
        return []
    spacing = spacing_of(c.due[idx] if due is None else due)  # idx is in due order
    bad = c.outcome[idx] != OK
    edges = np.diff(bad.astype(np.int8), prepend=np.int8(0), append=np.int8(0))
    del bad
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1) - 1
    del edges
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


def due_order(c: RequestColumns, sent: Mask) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.float64]]:
    """The requests sent, as indices by due time then k, and their due times in that order."""
    # by due, then k: one schedule dues request k at start + k/rate, so k order is due order; a history
    # that breaks it gets the full sort (each step frees the last: ten million requests stay under 1 GB)
    order = np.argsort(c.k, kind="stable")
    order = order[sent[order]]
    due = c.due[order]
    if not (due[1:] >= due[:-1]).all():
        order = np.flatnonzero(sent)[np.lexsort((c.k[sent], c.due[sent]))]
        due = c.due[order]
    return order, due


def outage_windows_of(c: RequestColumns, sent: Mask) -> list[OutageWindow]:
    """outages.outage_windows over the requests sent: per entry (natural order), then "all"."""
    order, due = due_order(c, sent)
    present = np.unique(c.target[order])
    entries = sorted_nodes(c.targets[i] for i in present)
    kinds, names = _kind_codes(c)
    windows = []
    for e in entries:
        code = c.targets.index(e)
        windows += _runs(c, order[c.target[order] == code], e, kinds, names)
    return windows + _runs(c, order, ALL, kinds, names, need_all=len(present), due=due)


def answered_before(c: RequestColumns, sent: Mask, windows: list[OutageWindow], after: float) -> dict[int, float]:
    """For each window (by its index) that starts after `after`: when its entry last came back before it, the
    end of the first ok answer on that entry (any entry, for "all") due since its previous window, if that
    answer ended before the window's first failure was due. A window missing here continued an outage as
    users felt it: the requests between the two were answered only once the second had begun (a task starting
    holds its first connections, then answers them late)."""
    found: dict[int, float] = {}
    ok = sent & (c.outcome == OK)
    previous: dict[str, float] = {}
    for i, w in enumerate(windows):
        since = previous.get(w.entry, -np.inf)
        previous[w.entry] = w.start
        if w.start <= after:
            continue
        mask = ok & (c.due > since) & (c.due < w.start)
        if w.entry != ALL and w.entry in c.targets:
            mask &= c.target == c.targets.index(w.entry)
        ends = c.end[mask]
        if len(ends) and (first := float(ends.min())) < w.start:
            found[i] = first
    return found
