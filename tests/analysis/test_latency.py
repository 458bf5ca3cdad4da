"""Latency from due time, and client lag: a slow client shows as latency and lag, not missing requests."""

from __future__ import annotations

import pytest

from pulltheplug.analysis import Phases, client_lag, latency_by_phase, percentiles, summarize
from tests.analysis.history import run, stream


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
    steady, fault, recovery = s.latency["steady"], s.latency["fault"], s.latency["recovery"]
    assert steady and fault and recovery
    assert steady.max_ms < fault.p50_ms and fault.max_ms < recovery.p50_ms  # grows with the lag
    overall = s.latency["overall"]
    assert overall and overall.p99_ms == pytest.approx(99.0 + 2.0, rel=0.02)


def test_latency_counts_ok_requests_only() -> None:
    requests = stream(100.0, 2.0, ["node1"], fail=lambda e, due: "timeout" if due >= 1.0 else None)
    by_phase = latency_by_phase(requests, Phases(steady=0.0, fault=None, revert=None, end=2.0))
    overall = by_phase["overall"]
    assert overall is not None and overall.count == 100
    assert by_phase["fault"] is None


def test_percentiles_in_milliseconds_and_long_values_clamped_not_dropped() -> None:
    p = percentiles([0.001] * 98 + [0.5, 300.0])
    assert p is not None
    assert p.count == 100
    assert p.p50_ms == pytest.approx(1.0, rel=0.01)
    assert p.p99_ms == pytest.approx(500.0, rel=0.01)
    assert p.max_ms == pytest.approx(300_000.0)
    assert percentiles([]) is None
    assert client_lag([]) is None
