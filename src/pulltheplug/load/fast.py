"""The open-loop prober on raw asyncio protocols: `load.run_load`'s schedule, outcomes and records, for a
fraction of its CPU a request.

Measured on this machine (bench/prober.py, one core): aiohttp's client spends about 200 us of CPU on a
request, most of it in its session, request and response objects. Here a request is one write of bytes
built once per entry, on a pooled connection (or a new one per request with `keep_alive=False`), and
httptools' C parser reads the answer in the protocol's callbacks: no task, no object per request but
its own small state and its record. Run it on uvloop (`new_loop`) for the figures the README states.

The same rules as `run_load`: request k is due at start + k/rate whatever earlier ones did; latency
counts from due; ok is the expected answer, fail surely had no effect (no connection was ever made),
info may have (connected, then a timeout or a reset); a stale keep-alive connection that breaks before
any answer is retried once on a new one, as aiohttp and browsers do, within the same timeout. Plain
http to an address or a name (resolved again every DNS_CACHE_TTL s); https and a per-connection
resolver stay with `run_load`.

With `stride` > 1 this instance sends only requests k = offset, offset + stride, ... of the one schedule:
that is how several worker processes share one rate on one clock (see `load/workers.py`).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import time
from collections.abc import Callable
from dataclasses import replace

import uvloop
from yarl import URL

from pulltheplug.load.fast_prober import TICK, YOUNG_GC_EVERY, Prober
from pulltheplug.load.plan import WHOLE, LoadPlan, Share
from pulltheplug.load.prober import LoadStats, follow_schedule
from pulltheplug.records.model import RequestRecord

log = logging.getLogger(__name__)

def new_loop() -> asyncio.AbstractEventLoop:
    """uvloop: libuv's loop does the prober's socket work in C (about twice asyncio's throughput here)."""
    return uvloop.new_event_loop()


def can_carry(urls: list[str]) -> bool:
    """Plain http with a host: what this prober speaks (https goes to `run_load`)."""
    return all(URL(u).scheme == "http" and URL(u).host for u in urls)


async def run_fast_load(plan: LoadPlan, t0: float, stop: asyncio.Event | float,
                        on_record: Callable[[RequestRecord], None], share: Share = WHOLE,
                        hold_gc: bool = False) -> LoadStats:
    """`load.run_load`'s contract (see there), plus: the plan's `keep_alive` False opens a connection per
    request; `share` is this sender's part of the one schedule (a worker's: see `Share`); `hold_gc` holds the
    collector's full passes off while the load runs (process-wide: only for a process that does little else,
    as `pulltheplug load` and its workers)."""
    plan.check("run_fast_load")
    if not can_carry(list(plan.entries.values())):
        raise ValueError("run_fast_load speaks plain http only")
    clock = time.monotonic
    start = clock() - t0 if share.start is None else share.start
    stats = LoadStats(start=start)
    per_entry = max(1, plan.max_in_flight // share.stride // len(plan.entries))
    prober = Prober(dict(plan.entries), plan.timeout, t0, on_record, per_entry, plan.shape, plan.keep_alive, stats)
    loop = prober.loop
    # The collector's full passes stall the loop for 15 ms and more once a run holds many objects (measured:
    # 48 requests sent >10 ms late at 3,000/s, none with it off). So it is off while the load runs, the young
    # generations (where connections and their cycles die) are collected every YOUNG_GC_EVERY s, and the full
    # pass comes back when the load ends. Process-wide, so only where asked (`hold_gc`): a run's controller
    # keeps its collector for the observer's and the faults' objects.
    collecting = hold_gc and gc.isenabled()
    if collecting:
        gc.disable()
    young_at = [0.0]

    def young(now: float) -> None:
        if collecting and now - young_at[0] >= YOUNG_GC_EVERY:
            gc.collect(1)
            young_at[0] = now

    try:
        stats.sent, stats.stopped = await follow_schedule(
            plan.rate, replace(share, start=start), t0, stop, prober.launch, lambda: not prober.errors,
            min_wait=TICK, each_pass=young)
        if prober.in_flight or any(e.waiting for e in prober.entries):
            prober.drained = loop.create_future()
            await prober.drained
        prober.close_idle()
    except asyncio.CancelledError:
        prober.abandon()
        raise
    finally:
        if collecting:
            gc.enable()
    if prober.errors:
        raise prober.errors[0]
    return stats
