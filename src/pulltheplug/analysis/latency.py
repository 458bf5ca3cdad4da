"""Latency (from due time, as wrk2 measures it) and client lag, as HdrHistogram percentiles.

Latency is given twice: of every request that ended (a failure too: during an outage, ok-only latency
looks fine because the slow requests are the ones that failed) and of ok requests only. A request that
hit the client timeout counts at its end, about the timeout: a floor of what it would have taken, so the
figures say how many such requests they hold.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from hdrh.histogram import HdrHistogram

from pulltheplug.analysis.phases import PHASES, Phases
from pulltheplug.record import RequestRecord

TIMEOUT_ERRORS = frozenset({"timeout", "connect_timeout"})  # the client gave up: its timeout, not an answer
INTERRUPTED = "interrupted"  # cut short by the run's end, not ended by the service or the timeout

LOWEST_US = 1
HIGHEST_US = 120_000_000  # 120 s: longer than any request timeout the spec allows in practice
SIGNIFICANT_DIGITS = 3


@dataclass(frozen=True, slots=True)
class Percentiles:
    """Milliseconds; `max_ms` is exact, the percentiles are to 3 significant digits.

    `timeouts`: how many of the `count` values are requests that hit the client timeout (latency only).
    """

    count: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    timeouts: int = 0


def percentiles(seconds: Iterable[float], timeouts: int = 0) -> Percentiles | None:
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

    return Percentiles(count=len(values), p50_ms=ms(50), p90_ms=ms(90), p99_ms=ms(99), max_ms=max(values) * 1000.0,
                       timeouts=timeouts)


def _by_phase(requests: Sequence[RequestRecord], phases: Phases) -> dict[str, Percentiles | None]:
    """Keys: overall and each phase (of the due time)."""

    def of(group: Sequence[RequestRecord]) -> Percentiles | None:
        return percentiles((r.latency for r in group), sum(r.error in TIMEOUT_ERRORS for r in group))

    per_phase: dict[str, list[RequestRecord]] = {p: [] for p in PHASES}
    for r in requests:
        per_phase[phases.of(r.due)].append(r)
    return {"overall": of(requests), **{p: of(group) for p, group in per_phase.items()}}


def latency_of_all(requests: Sequence[RequestRecord], phases: Phases) -> dict[str, Percentiles | None]:
    """Every request sent that ended: ok, fail and info (a timeout at its end); not the ones the run cut short."""
    return _by_phase([r for r in requests if r.was_sent and r.error != INTERRUPTED], phases)


def latency_of_ok(requests: Sequence[RequestRecord], phases: Phases) -> dict[str, Percentiles | None]:
    """Ok requests only: how fast the service answered when it did."""
    return _by_phase([r for r in requests if r.outcome == "ok"], phases)


def client_lag(requests: Sequence[RequestRecord]) -> Percentiles | None:
    """sent - due over every request sent: large values mean the client, not the service, was slow."""
    return percentiles(max(r.sent - r.due, 0.0) for r in requests if r.sent is not None)
