"""A run's phases on its event loop: steady state, the faults, recovery until converged (every node Ready,
every replica running, requests healthy for the settle time) or the timeout, and the progress ticker.
"""

from __future__ import annotations

import asyncio
import logging

from pulltheplug.live.state import running_per_node
from pulltheplug.load.fast import can_carry, run_fast_load
from pulltheplug.load.plan import LoadPlan
from pulltheplug.load.prober import run_load, run_load_in_netns
from pulltheplug.records.events import PhaseEvent
from pulltheplug.run.fault_steps import run_faults, sleep_or_fail
from pulltheplug.run.parts import RunParts
from pulltheplug.run.preparation import request_shape

log = logging.getLogger(__name__)


async def phases(run: RunParts) -> None:
    spec, prep, clock, writer, tally, progress = run.spec, run.prep, run.clock, run.writer, run.tally, run.progress
    emit = run.emit
    meta = writer.meta
    stop = asyncio.Event()
    meta.phases["steady"] = clock()
    emit(PhaseEvent(t=clock(), phase="steady"))
    progress.phase, progress.phase_until = "steady", clock() + spec.phases.steady
    writer.write_meta()
    plan = LoadPlan(prep.entries, spec.load.rate, spec.load.timeout, request_shape(spec.workload.request),
                    spec.load.max_in_flight, spec.load.keep_alive)
    door, t0 = prep.door, meta.t0_monotonic
    if door is not None and door.netns is not None:  # from inside the swarm (a client container)
        load = asyncio.create_task(run_load_in_netns(door.netns, plan, t0, stop, tally, door.resolver))
    elif spec.load.client == "fast" and can_carry(list(prep.entries.values())):
        load = asyncio.create_task(run_fast_load(plan, t0, stop, tally))
    else:
        load = asyncio.create_task(run_load(plan, t0, stop, tally))
    ticker = asyncio.create_task(_tick(run))
    try:
        await sleep_or_fail(spec.phases.steady, load)
        if run.faults:
            await run_faults(spec, run.faults, clock, emit, writer, progress, load)
        else:
            await sleep_or_fail(spec.fault.duration, load)
        progress.phase, progress.phase_until = "recovery", clock() + spec.phases.timeout
        converged = await _until_converged(run, load)
        if converged is not None:
            meta.phases["converged"] = converged
        else:
            meta.error = f"did not converge within {spec.phases.timeout:.0f}s after the revert"
    finally:
        stop.set()
        ticker.cancel()
        meta.phases["end"] = clock()
        emit(PhaseEvent(t=clock(), phase="end"))
        await asyncio.gather(load, ticker, return_exceptions=True)
        if not ticker.cancelled() and ticker.exception() is not None:
            log.warning("the progress ticker failed", exc_info=ticker.exception())
        if load.done() and not load.cancelled():
            if load.exception() is not None:
                raise load.exception()  # type: ignore[misc]
            stats = load.result()
            meta.load.update(sent=stats.sent, max_lag=round(stats.max_lag, 6), peak_in_flight=stats.peak_in_flight)


async def _until_converged(run: RunParts, load: asyncio.Task[object]) -> float | None:
    """Every node Ready, every desired task running, and no failed request for `settle` seconds.

    Returns when the cluster side converged (and stayed so), or None on timeout.
    """
    spec, prep, clock, observer, tally = run.spec, run.prep, run.clock, run.observer, run.tally
    names = prep.nodes
    start = clock()
    since: float | None = None
    while clock() - start < spec.phases.timeout:
        v = observer.snapshot()
        cluster_ok = bool(v.control_plane) and v.all_ready(names) and v.tasks_settled(prep.replicas)
        since = (since if since is not None else clock()) if cluster_ok else None
        healthy = clock() - max(tally.last_bad_due, start) >= spec.phases.settle
        if since is not None and healthy:
            return since
        await sleep_or_fail(0.25, load)
    return None


async def _tick(run: RunParts) -> None:
    while True:
        v = run.observer.snapshot()
        progress = run.tally.progress_at(run.clock())
        progress.nodes = {n: row["state"] for n, row in v.nodes.items()}
        progress.leader = v.leader
        progress.control_plane = v.control_plane
        progress.tasks = running_per_node(v.tasks.values())
        run.events.progressed(progress)
        await asyncio.sleep(0.5)
