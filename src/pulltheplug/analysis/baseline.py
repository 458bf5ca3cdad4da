"""Is the measurement itself sound? A saturated service or client before the fault makes every later
figure meaningless, so the summary says so instead of reporting an "outage" the fault did not cause.

Measured here: on a 2-core machine, 5 lab nodes with the busybox probe held 1,000 req/s (99.9% ok before
the fault) and collapsed at 1,500 req/s (10% ok, no fault at all): SYNs dropped by a full accept queue.
"""

from __future__ import annotations

from collections.abc import Sequence

from pulltheplug.analysis.availability import Availability
from pulltheplug.analysis.latency import Percentiles
from pulltheplug.naming import sorted_nodes
from pulltheplug.records.events import ControlPlaneEvent, Event, NodeEvent, of_type

MIN_STEADY_AVAILABILITY = 0.99
MAX_LAG_P99_MS = 50.0


def baseline_warnings(avail: Availability, lag: Percentiles | None, rate: float | None,
                      capacity: float | None = None, had_fault: bool = True) -> list[str]:
    """One line per reason to distrust the run; empty when the baseline is healthy. `capacity`: the requests a
    second the client's workers could send, by the calibration at start (see calibration.py). Without a fault
    (`pulltheplug load`, a baseline run) failures are what the run measures, not a baseline that hides a fault."""
    out = []
    if rate and capacity and rate > capacity:
        out.append(f"the rate ({rate:g} req/s) is above what the client could send here (about {capacity:.0f} "
                   "req/s by its calibration at start): add workers (--workers) or lower the rate, or the figures "
                   "measure the client")
    steady = avail.by_phase.get("steady")
    if had_fault and steady is not None and steady < MIN_STEADY_AVAILABILITY:
        out.append(f"the steady state before the fault was not healthy ({100 * steady:.2f}% ok): the service or "
                   f"the client is saturated{f' at {rate:g} req/s' if rate else ''}; lower the rate, or the "
                   "failures are not the fault's")
    if lag is not None and lag.p99_ms > MAX_LAG_P99_MS:
        out.append(f"the client fell behind its schedule (p99 {lag.p99_ms:.0f} ms late): latency is still measured "
                   "from due times, but the machine running the load was short of CPU")
    return out


def not_whole_at_start(events: Sequence[Event], fault_start: float | None) -> list[str]:
    """Why the cluster was not whole when the run began (empty when it was, or when the history cannot say).

    The run began whole when the first view a majority of managers agreed on (the observer's first node events,
    all dated alike) came before the fault and showed every node Ready and every manager reachable. A run that
    starts in the aftermath of the one before (a node still Down, no agreed leader) measures that aftermath,
    not its own fault.
    """
    planes = of_type(events, ControlPlaneEvent)
    nodes = of_type(events, NodeEvent)
    out = []
    if planes and not planes[0].available:
        back = next((e.t for e in planes if e.available), None)
        until = f"until {back:.1f} s" if back is not None else "for the whole run"
        out.append(f"the run began while no majority of managers agreed on a leader ({until}): it measured the "
                   "aftermath of what came before; wait for a whole cluster first (--wait-whole)")
    if not nodes or (fault_start is not None and nodes[0].t >= fault_start):
        return out
    first = [e for e in nodes if e.t == nodes[0].t]
    gaps = {e.node: e.state for e in first if e.state != "ready"}
    gaps |= {e.node: "unreachable" for e in first if e.manager == "unreachable" and e.node not in gaps}
    if gaps:
        said = ", ".join(f"{n} {gaps[n]}" for n in sorted_nodes(gaps))
        out.append(f"the cluster was not whole when the run began ({said}): the figures mix the fault with what "
                   "came before; wait for a whole cluster first (--wait-whole)")
    return out
