"""The prober on its own (`pulltheplug load`): any HTTP endpoints, no cluster, no fault, as vegeta's attack.

A person measures a service while they break it by hand; the run folder is an ordinary one (the same
records, summary and report), with no cluster events and the fault `none`, so every report and the live
page read it as they read a run.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path
from urllib.parse import urlsplit

from pulltheplug.analysis.results import write_results
from pulltheplug.errors import SpecError
from pulltheplug.load.calibration import HEADROOM, per_core_rate
from pulltheplug.load.fast import can_carry, new_loop, run_fast_load
from pulltheplug.load.plan import LoadPlan
from pulltheplug.load.prober import LoadStats, run_load
from pulltheplug.load.workers import run_workers
from pulltheplug.records.events import PhaseEvent, RunEvent
from pulltheplug.records.folder import RunWriter
from pulltheplug.records.model import Meta, RequestRecord
from pulltheplug.run.events import RunEvents
from pulltheplug.run.progress import RunProgress, Tally, named_entries, run_folder
from pulltheplug.spec import SloSpec

log = logging.getLogger(__name__)

TICK = 0.5  # seconds between two progress updates


def check_urls(urls: list[str]) -> dict[str, str]:
    """Entry name -> URL, for http(s) URLs with a host; anything else is the user's to fix."""
    if not urls:
        raise SpecError("give at least one URL to load, e.g. http://127.0.0.1:8080/")
    for u in urls:
        parts = urlsplit(u)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise SpecError(f"{u!r} is not an http(s) URL with a host: write it as http://HOST:PORT/PATH")
    return named_entries(urls)


def engine_for(urls: list[str], workers: int) -> str:
    """`fast` (load/fast.py, on `workers` processes) for plain http; `aiohttp` (load/prober.py) for https."""
    if workers < 1:
        raise SpecError("--workers must be at least 1")
    if can_carry(urls):
        return "fast"
    if workers > 1:
        raise SpecError("--workers above 1 needs plain http URLs (https goes through the one-process prober)")
    return "aiohttp"


def execute(urls: list[str], rate: float, duration: float, timeout: float, runs_dir: Path, name: str = "load",
            events: RunEvents | None = None, folder: Path | None = None, workers: int = 1,
            keep_alive: bool = True) -> Path:
    """Load `urls` round-robin at `rate` for `duration` s; returns the run folder (summary and report made).

    Ctrl-C stops the load: the requests in flight get their records, and meta.json says `interrupted`.
    """
    entries = check_urls(urls)
    if rate <= 0 or duration <= 0 or timeout <= 0:
        raise SpecError("--rate, --duration and --timeout must be positive")
    engine = engine_for(urls, workers)
    if engine == "aiohttp" and not keep_alive:
        raise SpecError("--no-keep-alive needs plain http URLs: the https prober keeps its connections")
    capacity = None
    if engine == "fast":
        per_core = per_core_rate(keep_alive)
        capacity = per_core * workers * HEADROOM if per_core is not None else None
        if capacity is not None and rate > capacity:
            log.warning("--rate %g is above what %d worker(s) can send here (about %.0f req/s by a calibration on "
                        "loopback): add --workers or lower --rate; the summary will flag the run", rate, workers,
                        capacity)
    t0 = time.monotonic()
    meta = Meta(name=name, started_at=dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"), t0_monotonic=t0,
                cluster={"kind": "none"}, entries=entries,
                load={"rate": rate, "timeout": timeout, "engine": engine, "workers": workers, "keep_alive": keep_alive,
                      **({"capacity": round(capacity)} if capacity is not None else {})},
                fault={"kind": "none", "target": "none", "duration": 0.0}, slo=SloSpec().model_dump(),
                plan={"steady": duration, "fault": 0.0, "settle": 0.0, "timeout": 0.0})
    writer = RunWriter(folder or run_folder(runs_dir, name), meta, f"# pulltheplug load {' '.join(urls)} "
                       f"--rate {rate:g} --duration {duration:g}s --timeout {timeout:g}s --workers {workers}"
                       f"{'' if keep_alive else ' --no-keep-alive'}\n")
    events = events or RunEvents()
    events.folder_made(writer.folder)
    progress = RunProgress(phase="steady", target="", fault="none", cluster=False)
    tally = Tally(writer, progress)

    def clock() -> float:
        return time.monotonic() - t0

    writer.event(RunEvent(t=clock(), action="start"))

    def begin(start: float) -> None:
        """The steady phase starts with the schedule (worker processes take a second or two to start)."""
        meta.phases["steady"] = start
        writer.event(PhaseEvent(t=start, phase="steady"))
        progress.phase_until = start + duration
        writer.write_meta()

    plan = LoadPlan(entries, rate, timeout, keep_alive=keep_alive)
    try:
        if workers > 1:
            stats = _on_workers(plan, duration, t0, tally, clock, events, workers, begin)
        else:
            with asyncio.Runner(loop_factory=new_loop if engine == "fast" else None) as runner:
                begin(clock())
                stats = runner.run(_load(plan, duration, t0, tally, clock, events, engine))
        meta.load.update(sent=stats.sent, max_lag=round(stats.max_lag, 6), peak_in_flight=stats.peak_in_flight)
        meta.status = "complete"
    except KeyboardInterrupt:
        meta.status = "interrupted"
    finally:
        meta.phases["end"] = clock()
        writer.event(PhaseEvent(t=clock(), phase="end"))
        writer.event(RunEvent(t=clock(), action="end" if meta.status == "complete" else "interrupted"))
        writer.close()
    results = write_results(writer.folder)
    events.results_written(*results)
    return writer.folder


async def _load(plan: LoadPlan, duration: float, t0: float, tally: Tally, clock: Callable[[], float],
                events: RunEvents, engine: str) -> LoadStats:
    # `duration` from the load's own start, so --rate R --duration D is R x D requests: run_load dues request k
    # at its start + k/R, microseconds after `start`, and sends none due at or after the deadline
    start = clock()
    until = start + duration - 0.5 / plan.rate
    load = asyncio.create_task(run_fast_load(plan, t0, until, tally, hold_gc=True) if engine == "fast"
                               else run_load(plan, t0, until, tally))
    await asyncio.sleep(0)  # the load takes its start now, before any progress is drawn
    while not load.done():
        events.progressed(tally.progress_at(clock()))
        await asyncio.wait({load}, timeout=TICK)
    return await load


def _on_workers(plan: LoadPlan, duration: float, t0: float, tally: Tally, clock: Callable[[], float],
                events: RunEvents, workers: int, begin: Callable[[float], None]) -> LoadStats:
    """The workers' records come in on a thread of their own; this one draws the progress and takes Ctrl-C."""
    stop = threading.Event()
    result: list[LoadStats] = []
    failure: list[BaseException] = []
    lock = threading.Lock()  # the tally is written there and read here

    def record(r: RequestRecord) -> None:
        with lock:
            tally(r)

    def receive() -> None:
        try:
            result.append(run_workers(plan, t0, duration, record, workers, stop=stop, on_start=begin))
        except BaseException as exc:  # handed to the main thread, which raises it
            failure.append(exc)

    receiver = threading.Thread(target=receive, name="load-workers")
    receiver.start()
    try:
        while receiver.is_alive():
            with lock:
                progress = tally.progress_at(clock())
            events.progressed(progress)
            receiver.join(TICK)
    except KeyboardInterrupt:
        stop.set()  # the workers finish their requests in flight and ship them
        receiver.join()
        raise
    if failure:
        raise failure[0]
    return result[0]
