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

import uvloop
from yarl import URL

from pulltheplug.load.fast_prober import TICK, YOUNG_GC_EVERY, Prober
from pulltheplug.load.prober import (
    GET,
    LoadStats,
    RequestShape,
    follow_schedule,
)
from pulltheplug.records.model import RequestRecord

log = logging.getLogger(__name__)

def new_loop() -> asyncio.AbstractEventLoop:
    """uvloop: libuv's loop does the prober's socket work in C (about twice asyncio's throughput here)."""
    return uvloop.new_event_loop()


def can_carry(urls: list[str]) -> bool:
    """Plain http with a host: what this prober speaks (https goes to `run_load`)."""
    return all(URL(u).scheme == "http" and URL(u).host for u in urls)


async def run_fast_load(
    entries: dict[str, str],
    rate: float,
    timeout: float,
    t0: float,
    stop: asyncio.Event | float,
    on_record: Callable[[RequestRecord], None],
    max_in_flight: int = 4000,
    shape: RequestShape = GET,
    keep_alive: bool = True,
    offset: int = 0,
    stride: int = 1,
    start: float | None = None,
    until: float | None = None,
    hold_gc: bool = False,
) -> LoadStats:
    """`load.run_load`'s contract (see there), plus: `keep_alive` False opens a connection per request;
    `offset`/`stride` send only requests offset + j * stride of the schedule (one worker's share); `start` (run
    seconds) is when request 0 is due (default: now), the one schedule every worker shares; `until` is a
    deadline (run seconds) on top of a `stop` event; `hold_gc` holds the collector's full passes off while the
    load runs (process-wide: only for a process that does little else, as `pulltheplug load` and its workers)."""
    if not entries:
        raise ValueError("run_fast_load needs at least one entry")
    if rate <= 0 or timeout <= 0 or max_in_flight < 1 or stride < 1 or not 0 <= offset < stride:
        raise ValueError("rate, timeout, max_in_flight and stride must be positive, and offset below stride")
    if not can_carry(list(entries.values())):
        raise ValueError("run_fast_load speaks plain http only")
    clock = time.monotonic
    stats = LoadStats(start=clock() - t0 if start is None else start)
    per_entry = max(1, max_in_flight // stride // len(entries))
    prober = Prober(entries, timeout, t0, on_record, per_entry, shape, keep_alive, stats)
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
            stats.start, rate, t0, stop, prober.launch, lambda: not prober.errors, first=offset, stride=stride,
            min_wait=TICK, until=until, each_pass=young)
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
