"""Is the measurement itself sound? A saturated service or client before the fault makes every later
figure meaningless, so the summary says so instead of reporting an "outage" the fault did not cause.

Measured here: on a 2-core machine, 5 lab nodes with the busybox probe held 1,000 req/s (99.9% ok before
the fault) and collapsed at 1,500 req/s (10% ok, no fault at all): SYNs dropped by a full accept queue.
"""

from __future__ import annotations

from pulltheplug.analysis.availability import Availability
from pulltheplug.analysis.latency import Percentiles

MIN_STEADY_AVAILABILITY = 0.99
MAX_LAG_P99_MS = 50.0


def baseline_warnings(avail: Availability, lag: Percentiles | None, rate: float | None,
                      capacity: float | None = None) -> list[str]:
    """One line per reason to distrust the run; empty when the baseline is healthy. `capacity`: the requests a
    second the client's workers could send, by the calibration at start (see calibration.py)."""
    out = []
    if rate and capacity and rate > capacity:
        out.append(f"the rate ({rate:g} req/s) is above what the client could send here (about {capacity:.0f} "
                   "req/s by its calibration at start): add workers (--workers) or lower the rate, or the figures "
                   "measure the client")
    steady = avail.by_phase.get("steady")
    if steady is not None and steady < MIN_STEADY_AVAILABILITY:
        out.append(f"the steady state before the fault was not healthy ({100 * steady:.2f}% ok): the service or "
                   f"the client is saturated{f' at {rate:g} req/s' if rate else ''}; lower the rate, or the "
                   "failures are not the fault's")
    if lag is not None and lag.p99_ms > MAX_LAG_P99_MS:
        out.append(f"the client fell behind its schedule (p99 {lag.p99_ms:.0f} ms late): latency is still measured "
                   "from due times, but the machine running the load was short of CPU")
    return out
