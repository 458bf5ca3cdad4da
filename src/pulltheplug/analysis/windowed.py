"""What users felt, window by window: the worst availability over every window of a given size (Hauer et al.,
"Meaningful Availability", NSDI 2020), error seconds, and the degraded span around the fault.

Why: an outage window is a run of *consecutive* failures on one entry point. Behind a round-robin door the
failures interleave with ok answers, so a door that fails one request in five for 3.5 s shows a "longest
outage" of one request spacing. The worst 1 s window says 80%, whatever the entry or the door.

The rules, stated once (each figure carries its own `step_s` and `min_requests`):
- a window of size w is [s, s + w) on the due times of the requests sent; its availability is ok / sent;
- windows start at the first request's due time and every min(100 ms, w / 100) after it, so any burst up to
  w - step long lies whole in some window; a window that would reach past the stream's end (the last due time
  plus one request spacing, as outage windows end) is not counted: a window size longer than the run has no
  figure (None);
- a window with fewer than MIN_REQUESTS (20) requests is left out: one failure alone cannot bring a window
  below 95%, and a stalled client's near-empty windows say nothing;
- of equal worst windows, the earliest is given.
Prefix sums over the due-sorted requests and two `searchsorted` per size: millions of requests in well under
a second per size.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from pulltheplug.analysis.request_figures import Mask, due_order, spacing_of
from pulltheplug.naming import sorted_nodes
from pulltheplug.records.columns import OK, RequestColumns

DEFAULT_WINDOWS: tuple[float, ...] = (1.0, 10.0, 60.0)
MIN_REQUESTS = 20  # one failure moves a window of 20 by 5 points: it cannot make a 95% window alone
MAX_STEP = 0.1  # seconds between two window starts, at most
STEP_SHARE = 0.01  # and at most 1% of the window: a 1 s window slides by 10 ms
ERROR_BIN = 1.0  # error seconds: 1 s bins of the run clock (floor of the due time) with any failure
DEGRADED_GAP = 1.0  # failures less than this apart belong to one degraded span

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class WindowedAvailability:
    """The worst window of `window_s` seconds: ok / sent in [start, end); None where no window was judged."""

    window_s: float
    worst: float | None
    start: float | None
    end: float | None
    requests: int  # sent in the worst window
    failed: int  # not ok in it (fail or info)
    windows: int  # windows judged (with at least min_requests)
    step_s: float  # how far one window start is from the next
    min_requests: int  # a window with fewer requests is left out


@dataclass(frozen=True, slots=True)
class DegradedSpan:
    """From the first failure due at or after the fault start to the last failure that follows it with no gap of
    DEGRADED_GAP (1 s) or more, plus one request spacing (as an outage window ends); every entry together."""

    start: float
    end: float
    duration: float
    after_fault_start: float  # start - fault start: how soon users saw the first error
    failed: int  # requests not ok in the span
    requests: int  # requests sent in the span
    open: bool  # the last request of the run failed: still degraded when the run ended


def window_step(window_s: float) -> float:
    return min(MAX_STEP, window_s * STEP_SHARE)


def worst_window(due: F64, ok: Mask, window_s: float, spacing: float,
                 min_requests: int = MIN_REQUESTS) -> WindowedAvailability:
    """The worst window of one stream; `due` sorted, `ok` the same requests' outcome (see the module's rules)."""
    step = window_step(window_s)
    none = WindowedAvailability(window_s, None, None, None, 0, 0, 0, step, min_requests)
    if not len(due):
        return none
    first, stop = float(due[0]), float(due[-1]) + spacing
    count = math.floor((stop - first - window_s) / step + 1e-9) + 1
    if count <= 0:
        return none
    # edges rounded to the nanosecond: 3.8000000000000003 would leave out a request due at 3.8
    starts = np.round(first + step * np.arange(count, dtype=np.float64), 9)
    lo = np.searchsorted(due, starts, "left")
    hi = np.searchsorted(due, np.round(starts + window_s, 9), "left")
    good = np.zeros(len(due) + 1, np.int64)
    np.cumsum(ok, out=good[1:])
    sent = hi - lo
    judged = sent >= min_requests
    if not judged.any():
        return none
    ratio = np.full(count, np.inf)
    ratio[judged] = (good[hi] - good[lo])[judged] / sent[judged]
    i = int(np.argmin(ratio))
    n = int(sent[i])
    start = float(starts[i])
    return WindowedAvailability(window_s, float(ratio[i]), start, round(start + window_s, 9), n,
                                n - int(good[hi[i]] - good[lo[i]]), int(judged.sum()), step, min_requests)


def error_seconds_of(due: F64, ok: Mask) -> int:
    """1 s bins of the run clock holding at least one failure (not ok) due in them."""
    return len(np.unique(np.floor(due[~ok] / ERROR_BIN)))


def degraded_span_of(due: F64, ok: Mask, fault_start: float | None, spacing: float,
                     until: float | None = None) -> DegradedSpan | None:
    """The span of failures the fault began (see DegradedSpan); None without a fault or a failure after it.
    `until`: failures due from then on are another fault's (the next one of a schedule)."""
    if fault_start is None:
        return None
    failed = due[~ok]
    failed = failed[(failed >= fault_start) & (failed < (math.inf if until is None else until))]
    if not len(failed):
        return None
    gaps = np.flatnonzero(np.diff(failed) >= DEGRADED_GAP)
    last = int(gaps[0]) if len(gaps) else len(failed) - 1
    start, end = float(failed[0]), float(failed[last]) + spacing
    sent = int(np.searchsorted(due, end, "left") - np.searchsorted(due, start, "left"))
    return DegradedSpan(start=start, end=end, duration=end - start, after_fault_start=start - fault_start,
                        failed=last + 1, requests=sent, open=bool(failed[last] == due[-1] and not ok[-1]))


@dataclass(frozen=True, slots=True)
class WindowedFigures:
    overall: list[WindowedAvailability]
    by_entry: dict[str, list[WindowedAvailability]]
    error_seconds: int
    error_seconds_by_entry: dict[str, int]
    degraded_span: DegradedSpan | None


def windowed_figures(c: RequestColumns, sent: Mask, sizes: Iterable[float],
                     fault_start: float | None) -> WindowedFigures:
    """Every window size over all requests sent (by due time), and over each entry's own."""
    sizes = sorted({float(w) for w in sizes})
    order, due = due_order(c, sent)
    ok = np.asarray(c.outcome[order] == OK)
    spacing = spacing_of(due)
    overall = [worst_window(due, ok, w, spacing) for w in sizes]
    by_entry: dict[str, list[WindowedAvailability]] = {}
    seconds_by_entry: dict[str, int] = {}
    targets = c.target[order]
    for entry in sorted_nodes(c.targets[i] for i in np.unique(targets)):
        mine = targets == c.targets.index(entry)
        entry_due, entry_ok = due[mine], ok[mine]
        entry_spacing = spacing_of(entry_due)
        by_entry[entry] = [worst_window(entry_due, entry_ok, w, entry_spacing) for w in sizes]
        seconds_by_entry[entry] = error_seconds_of(entry_due, entry_ok)
    return WindowedFigures(overall=overall, by_entry=by_entry, error_seconds=error_seconds_of(due, ok),
                           error_seconds_by_entry=seconds_by_entry,
                           degraded_span=degraded_span_of(due, ok, fault_start, spacing))


def degraded_spans(c: RequestColumns, sent: Mask, starts: Sequence[float]) -> list[DegradedSpan | None]:
    """Each fault's own degraded span, for the faults of a schedule starting at `starts` (in order): from its
    first failure at or after its start, never into a fault that starts later (faults injected together share
    their failures)."""
    if not starts:
        return []
    order, due = due_order(c, sent)
    ok = np.asarray(c.outcome[order] == OK)
    spacing = spacing_of(due)
    ends = [min((later for later in starts if later > start), default=None) for start in starts]
    return [degraded_span_of(due, ok, start, spacing, until) for start, until in zip(starts, ends, strict=True)]


def worst_window_slos(slo: Mapping[str, Any]) -> list[tuple[float, float]]:
    """(window, at_least) of each `slo.worst_window` (one mapping or a list of them, as SloSpec dumps it)."""
    given = slo.get("worst_window")
    items: Sequence[Any] = [given] if isinstance(given, Mapping) else given if isinstance(given, list) else []
    return [(float(x["window"]), float(x["at_least"])) for x in items if isinstance(x, Mapping)]


def window_sizes(analysis: Mapping[str, Any], slo: Mapping[str, Any]) -> list[float]:
    """The sizes to compute: the run's `analysis.windows` (default 1, 10, 60 s), with every size an SLO asks for."""
    asked = analysis.get("windows")
    sizes = [float(w) for w in asked] if isinstance(asked, list) and asked else list(DEFAULT_WINDOWS)
    return sorted({*sizes, *(w for w, _ in worst_window_slos(slo))})


def worst_of(figures: Sequence[WindowedAvailability], window_s: float) -> WindowedAvailability | None:
    """The figure of one window size; None when it was not computed (a summary made before it)."""
    return next((f for f in figures if math.isclose(f.window_s, window_s)), None)


def window_label(window_s: float) -> str:
    """'1s', '10s', '500ms': how a window size is named in tables and SLO names."""
    return f"{window_s * 1000:g}ms" if window_s < 1 else f"{window_s:g}s"


CURVE_WINDOWS: tuple[float, ...] = (0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0,
                                    3600.0)


def curve_sizes(duration: float, sizes: Iterable[float] = ()) -> list[float]:
    """The window sizes of the report's curve: a 1-2-5 ladder up to the run's length, with the summary's own."""
    return sorted({*(w for w in CURVE_WINDOWS if w <= duration), *sizes})
