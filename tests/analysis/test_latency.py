"""Latency from due time, and client lag: a slow client shows as latency and lag, not missing requests."""

from __future__ import annotations

import dataclasses

import pytest

from pulltheplug.analysis import Phases, percentiles, summarize
from pulltheplug.records.model import RequestRecord
from tests.analysis.history import run, stream
from tests.oracles import client_lag, latency_tables

TIMEOUT = 1.0


def timed_out(records: list[RequestRecord]) -> list[RequestRecord]:
    """A client timeout ends a request `TIMEOUT` after it was sent, as the load's does."""
    return [dataclasses.replace(r, end=r.sent + TIMEOUT) if r.error == "timeout" and r.sent is not None else r
            for r in records]


def test_slow_client_shows_as_latency_and_lag_not_as_missing_requests() -> None:
    # the client falls behind by 10 ms more every second: 0 ms at t=0, 100 ms at t=10
    requests = stream(100.0, 10.0, ["node1"], lag=lambda due: 0.01 * due)
    s = summarize(run(requests, phases={"steady": 0.0, "fault": 5.0, "revert": 8.0, "end": 10.0}))

    assert s.outcomes.requests == 1000 and s.availability.overall == 1.0
    assert s.outages == []
    lag = s.client_lag
    assert lag is not None
    assert lag.p50_ms == pytest.approx(50.0, rel=0.02)
    assert lag.p99_ms == pytest.approx(99.0, rel=0.02)
    assert lag.max_ms == pytest.approx(99.9)
    for latency in (s.latency_all, s.latency_ok):  # every request was ok: both say the same
        steady, fault, recovery = latency["steady"], latency["fault"], latency["recovery"]
        assert steady and fault and recovery
        assert steady.max_ms < fault.p50_ms and fault.max_ms < recovery.p50_ms  # grows with the lag
        overall = latency["overall"]
        assert overall and overall.p99_ms == pytest.approx(99.0 + 2.0, rel=0.02) and overall.timeouts == 0


def test_latency_of_ok_requests_leaves_the_failed_out() -> None:
    requests = timed_out(stream(100.0, 2.0, ["node1"], fail=lambda e, due: "timeout" if due >= 1.0 else None))
    _, by_phase = latency_tables(requests, Phases(steady=0.0, fault=None, revert=None, end=2.0))
    overall = by_phase["overall"]
    assert overall is not None and overall.count == 100 and overall.p99_ms == pytest.approx(2.0, rel=0.01)
    assert by_phase["fault"] is None


def test_latency_of_all_requests_counts_failures_and_timeouts_at_their_end() -> None:
    """Half the requests time out in the fault phase: all-requests p99 is the timeout, ok-only sees nothing."""

    def fail(entry: str, due: float) -> str | None:
        if 1.0 <= due < 2.0:
            return "timeout" if round(due * 100) % 2 else "refused"
        return None

    requests = timed_out(stream(100.0, 3.0, ["node1"], fail=fail))
    interrupted = RequestRecord(k=300, due=3.0, sent=3.0, end=3.1, target="node1", outcome="info",
                                error="interrupted")  # cut short by the run, not ended: no latency
    phases = Phases(steady=0.0, fault=1.0, revert=2.0, end=3.1)
    by_phase, _ = latency_tables([*requests, interrupted], phases)
    overall, fault = by_phase["overall"], by_phase["fault"]
    assert overall is not None and (overall.count, overall.timeouts) == (300, 50)
    assert fault is not None and (fault.count, fault.timeouts) == (100, 50)
    assert fault.p99_ms == pytest.approx(1000.0, rel=0.01) and fault.p50_ms == pytest.approx(2.0, rel=0.01)
    assert latency_tables(requests, phases)[1]["fault"] is None


def test_percentiles_in_milliseconds_and_long_values_clamped_not_dropped() -> None:
    p = percentiles([0.001] * 98 + [0.5, 300.0])
    assert p is not None
    assert p.count == 100
    assert p.p50_ms == pytest.approx(1.0, rel=0.01)
    assert p.p99_ms == pytest.approx(500.0, rel=0.01)
    assert p.max_ms == pytest.approx(300_000.0)
    assert percentiles([]) is None
    assert client_lag([]) is None
