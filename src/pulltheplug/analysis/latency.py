"""Latency (from due time, as wrk2 measures it) and client lag, as percentiles by nearest rank (analysis.percentile)
of whole microseconds.

Latency is given twice: of every request that ended (a failure too: during an outage, ok-only latency
looks fine because the slow requests are the ones that failed) and of ok requests only. A request that
hit the client timeout counts at its end, about the timeout: a floor of what it would have taken, so the
figures say how many such requests they hold.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import accumulate

from pulltheplug.analysis.percentile import rank
from pulltheplug.analysis.phases import Phase

TIMEOUT_ERRORS = frozenset({"timeout", "connect_timeout"})  # the client gave up: its timeout, not an answer
INTERRUPTED = "interrupted"  # cut short by the run's end, not ended by the service or the timeout


@dataclass(frozen=True, slots=True)
class Percentiles:
    """Milliseconds; the percentiles are exact to the microsecond (nearest rank), `max_ms` exact.

    `timeouts`: how many of the `count` values are requests that hit the client timeout (latency only).
    """

    count: int
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float
    timeouts: int = 0


@dataclass(slots=True)
class _Values:
    """One group's values as histogram counts (microseconds), with what the counts lose: n, max, timeouts."""

    counts: Counter[int]
    n: int
    max_s: float
    timeouts: int

    @classmethod
    def of(cls, seconds: list[float], timeouts: int = 0) -> _Values:
        # the same microsecond recurs thousands of times in a long run: count them in C, record each once
        # (the pure-Python histogram costs ~4 us a call: 1M calls were most of a long run's analysis)
        return cls(Counter([round(x * 1e6) for x in seconds]), len(seconds), max(seconds, default=0.0), timeouts)

    def merge(self, other: _Values) -> None:
        self.counts.update(other.counts)
        self.n += other.n
        self.timeouts += other.timeouts
        self.max_s = max(self.max_s, other.max_s)

    def percentiles(self) -> Percentiles | None:
        if not self.n:
            return None
        values = sorted(self.counts)
        below = list(accumulate(self.counts[v] for v in values))  # how many values are at or below each

        def ms(p: float) -> float:
            return values[bisect_right(below, rank(self.n, p))] / 1000.0

        return Percentiles(count=self.n, p50_ms=ms(50), p90_ms=ms(90), p99_ms=ms(99), max_ms=self.max_s * 1000.0,
                           timeouts=self.timeouts)


def percentiles(seconds: Iterable[float], timeouts: int = 0) -> Percentiles | None:
    """None for no values."""
    return _Values.of(list(seconds), timeouts).percentiles()


Latency = dict[str, Percentiles | None]  # keys: overall and each phase (of the due time)


def _table(groups: Mapping[Phase, _Values]) -> Latency:
    overall = _Values(Counter(), 0, 0.0, 0)
    for values in groups.values():
        overall.merge(values)
    return {"overall": overall.percentiles(), **{p: values.percentiles() for p, values in groups.items()}}


