"""Several prober processes on one schedule: worker w of N sends requests k = w, w + N, ... of the one open-loop
schedule (due = start + k/rate on the one monotonic clock), so N cores share a rate no single core reaches.

A worker ships its records here every SHIP s as plain tuples, each batch in k order; `on_record` gets them in this
process, in the order batches arrive (the analysis orders requests by due). Ctrl-C here stops every worker's
schedule; each waits for its requests in flight (their timeout at most) and ships them, so none is lost. A worker
ignores SIGINT itself: the terminal sends it to the whole group, and only this process decides.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import multiprocessing.connection
import os
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import asdict
from typing import cast

from pulltheplug.load.fast import new_loop, run_fast_load
from pulltheplug.load.plan import LoadPlan, Share
from pulltheplug.load.prober import LoadStats
from pulltheplug.records.model import RequestRecord

log = logging.getLogger(__name__)

SHIP = 0.1  # s between two batches of records from a worker
READY_WITHIN = 30.0  # s for a worker process to start (imports included)
LEAD = 0.05  # s between the workers being ready and request 0 being due


def default_workers(reserved: int = 1) -> int:
    """The cores this process may use, less `reserved` for what else must run here (the lab, a local server)."""
    return max(1, len(os.sched_getaffinity(0)) - reserved)


def _worker(w: int, n: int, plan: LoadPlan, t0: float, pipe: multiprocessing.connection.Connection) -> None:
    """One worker: says it is ready, gets (start, until), runs its share, ships records, then its stats."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    pipe.send(("ready", w))
    start, until = pipe.recv()
    batch: list[RequestRecord] = []

    def ship() -> None:
        if batch:
            rows = sorted((r.k, r.due, r.sent, r.end, r.target, r.outcome, r.status, r.error, r.node, r.task)
                          for r in batch)
            batch.clear()
            pipe.send(("records", rows))

    async def main() -> LoadStats:
        loop = asyncio.get_running_loop()
        stop = asyncio.Event()

        def told() -> None:  # "stop" (or this process's parent gone): the schedule ends, requests in flight finish
            with contextlib.suppress(EOFError):
                pipe.recv()
            loop.remove_reader(pipe.fileno())
            stop.set()

        loop.add_reader(pipe.fileno(), told)

        async def shipper() -> None:
            while True:
                await asyncio.sleep(SHIP)
                ship()

        shipping = loop.create_task(shipper())
        try:
            return await run_fast_load(plan, t0, stop, batch.append, Share(w, n, start, until), hold_gc=True)
        finally:
            shipping.cancel()
            if not stop.is_set():
                loop.remove_reader(pipe.fileno())

    with asyncio.Runner(loop_factory=new_loop) as runner:
        stats = runner.run(main())
    ship()
    pipe.send(("done", asdict(stats)))
    pipe.close()


def merged(stats: list[LoadStats], start: float) -> LoadStats:
    """The workers' stats as one load's."""
    return LoadStats(start=start, stopped=max(s.stopped for s in stats), sent=sum(s.sent for s in stats),
                     ok=sum(s.ok for s in stats), fail=sum(s.fail for s in stats), info=sum(s.info for s in stats),
                     not_sent=sum(s.not_sent for s in stats), max_lag=max(s.max_lag for s in stats),
                     peak_in_flight=sum(s.peak_in_flight for s in stats))


def run_workers(plan: LoadPlan, t0: float, duration: float, on_record: Callable[[RequestRecord], None],
                workers: int, stop: threading.Event | None = None,
                on_start: Callable[[float], None] | None = None) -> LoadStats:
    """`load.fast.run_fast_load` on `workers` processes for `duration` s from when they are all ready; blocks.

    `on_record` runs on this thread. `stop` (set from another thread, or by Ctrl-C here) ends the schedule early;
    `on_start` gets the schedule's start (run seconds) once the workers are ready.
    """
    ctx = multiprocessing.get_context("spawn")  # no fork of a process that may hold threads and locks
    pipes: list[multiprocessing.connection.Connection] = []
    procs = []
    for w in range(workers):
        here, there = ctx.Pipe()
        proc = ctx.Process(target=_worker, args=(w, workers, plan, t0, there), name=f"pulltheplug-load-{w}",
                           daemon=True)
        proc.start()
        there.close()
        pipes.append(here)
        procs.append(proc)
    stats: list[LoadStats] = []
    stopping: list[multiprocessing.connection.Connection] = []

    def tell_stop(pipes_left: list[multiprocessing.connection.Connection]) -> None:
        for pipe in pipes_left:
            if pipe not in stopping:
                stopping.append(pipe)
                try:
                    pipe.send("stop")
                except OSError:  # that worker is gone already
                    log.debug("load worker pipe closed before stop", exc_info=True)

    try:
        for pipe in pipes:
            if not pipe.poll(READY_WITHIN):
                raise RuntimeError(f"a load worker did not start within {READY_WITHIN:.0f} s")
            pipe.recv()
        start = time.monotonic() - t0 + LEAD
        for pipe in pipes:
            pipe.send((start, start + duration - 0.5 / plan.rate))  # duration D at rate R is R x D requests
        if on_start is not None:
            on_start(start)
        open_pipes = list(pipes)
        while open_pipes:
            try:
                if stop is not None and stop.is_set():
                    tell_stop(open_pipes)
                for ready in multiprocessing.connection.wait(open_pipes, timeout=0.2):
                    pipe = cast(multiprocessing.connection.Connection, ready)
                    try:
                        kind, payload = pipe.recv()
                    except EOFError:
                        open_pipes.remove(pipe)
                        continue
                    if kind == "records":
                        for row in payload:
                            on_record(RequestRecord(*row))
                    elif kind == "done":
                        stats.append(LoadStats(**payload))
                        open_pipes.remove(pipe)
            except KeyboardInterrupt:
                log.info("stopping the load workers: their requests in flight are still recorded")
                tell_stop(open_pipes)
    finally:
        for proc in procs:
            proc.join(plan.timeout + 5)
            if proc.is_alive():
                proc.kill()
                proc.join()
        for pipe in pipes:
            pipe.close()
    if len(stats) < workers:
        raise RuntimeError(f"{workers - len(stats)} load worker(s) died before they finished: see the log above")
    return merged(stats, start)
