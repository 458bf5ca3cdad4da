"""Latency (from due time, as wrk2 measures it) and client lag, as HdrHistogram percentiles."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hdrh.histogram import HdrHistogram

from pulltheplug.analysis.phases import PHASES, Phases
from pulltheplug.record import RequestRecord

LOWEST_US = 1
HIGHEST_US = 120_000_000  # 120 s: longer than any request timeout the spec allows in practice
SIGNIFICANT_DIGITS = 3


@dataclass(frozen=True, slots=True)
class Percentiles:
    """Milliseconds; `max_ms` is exact, the percentiles are to 3 significant digits."""

    count: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float


def percentiles(seconds: Iterable[float]) -> Percentiles | None:
    """None for no values; values above 120 s are clamped to it, not dropped (the histogram would)."""
    values = list(seconds)
    if not values:
        return None
    h = HdrHistogram(LOWEST_US, HIGHEST_US, SIGNIFICANT_DIGITS)
    # the same microsecond recurs thousands of times in a long run: record each value once, with its count
    # (the pure-Python histogram costs ~4 us a call: 1M calls were most of a 2,000 req/s run's analysis)
    for us, count in Counter(min(max(round(s * 1e6), 0), HIGHEST_US) for s in values).items():
        h.record_value(us, count)

    def ms(p: float) -> float:
        return float(h.get_value_at_percentile(p)) / 1000.0

    return Percentiles(count=len(values), p50_ms=ms(50), p90_ms=ms(90), p99_ms=ms(99), max_ms=max(values) * 1000.0)


def latency_by_phase(requests: Sequence[RequestRecord], phases: Phases) -> dict[str, Percentiles | None]:
    """Ok requests only (a failure's latency is its timeout); keys: overall and each phase."""
    ok = [r for r in requests if r.outcome == "ok"]
    per_phase: dict[str, list[float]] = {p: [] for p in PHASES}
    for r in ok:
        per_phase[phases.of(r.due)].append(r.latency)
    by_phase: dict[str, Percentiles | None] = {"overall": percentiles(r.latency for r in ok)}
    by_phase.update({p: percentiles(v) for p, v in per_phase.items()})
    return by_phase


def client_lag(requests: Sequence[RequestRecord]) -> Percentiles | None:
    """sent - due over every request sent: large values mean the client, not the service, was slow."""
    return percentiles(max(r.sent - r.due, 0.0) for r in requests if r.sent is not None)
