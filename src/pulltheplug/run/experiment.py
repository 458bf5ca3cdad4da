"""One experiment, end to end: workload up, steady state, fault, revert, observe until converged.

Requests (open loop), cluster events (observer) and fault events go to one history on one clock, written
as they happen. Whatever happens (an error, Ctrl-C, SIGTERM), an injected fault is reverted and the run
folder is kept, marked `interrupted` or `failed`.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Callable, Coroutine
from pathlib import Path

from pulltheplug.analysis.results import write_results
from pulltheplug.cluster.seam import Cluster
from pulltheplug.doors import DoorWatcher
from pulltheplug.observe.observer import Observer
from pulltheplug.records.events import Event, RunEvent, event
from pulltheplug.records.folder import RunWriter
from pulltheplug.records.model import Meta
from pulltheplug.run.events import RunEvents
from pulltheplug.run.fault_steps import REVERT_ERRORS, FaultState, Notes, note_failed, revert_if_needed
from pulltheplug.run.parts import RunParts
from pulltheplug.run.phases import phases
from pulltheplug.run.preparation import Prepared, close_door, prepare
from pulltheplug.run.progress import RunProgress, Tally, run_folder
from pulltheplug.run.stop_signals import StopRequested, StopSignals, stop_signals
from pulltheplug.spec import ExperimentSpec
from pulltheplug.swarm import settings as swarm_settings
from pulltheplug.swarm import stack, workload
from pulltheplug.swarm.api import answering_manager

log = logging.getLogger(__name__)


def _fault_meta(spec: ExperimentSpec, prep: Prepared) -> dict[str, object]:
    """What meta.json says of the fault: kind, target, node (and its nodes, shape), or the whole schedule."""
    pick = prep.pick
    if not (spec.schedule or spec.random_schedule):
        return {"kind": spec.fault.kind, "target": spec.fault.target, "duration": spec.fault.duration,
                **({"node": pick.node, "seed": pick.seed, "candidates": pick.candidates} if pick else {}),
                **({"nodes": prep.fault.nodes, **prep.fault.describe()} if prep.fault else {})}
    slots = [{"id": i, "kind": p.fault.kind, "target": p.pick.target, "node": p.fault.node, "nodes": p.fault.nodes,
              "at": p.at, "duration": p.fault.duration, "seed": p.pick.seed, **p.fault.describe()}
             for i, p in enumerate(prep.faults)]
    rs = spec.random_schedule
    return {"kind": "schedule", "target": "schedule",
            "duration": max((p.at + p.fault.duration for p in prep.faults), default=0.0),
            "schedule": slots,
            **({"random": {**rs.model_dump(mode="json"), "seed": prep.schedule_seed}} if rs is not None else {})}


def execute(
    spec: ExperimentSpec,
    spec_text: str,
    cluster: Cluster,
    runs_dir: Path,
    events: RunEvents | None = None,
    prepared: Prepared | None = None,
) -> Path:
    """Run the experiment; returns the run folder. Ctrl-C (or SIGTERM) ends it early: the fault is reverted,
    the records kept, and meta.json says `interrupted`. A run that fails raises once its records, summary
    and report are written; `events` hears the folder as soon as it exists (so a caller can still judge such a
    run), the progress, and the results as `summary.json` is written (see run/events.py)."""
    prep = prepared or prepare(spec, cluster)
    try:
        return _execute(spec, spec_text, cluster, runs_dir, events or RunEvents(), prep)
    finally:
        close_door(prep)  # also when the run never started: nothing of the door outlives it


def _execute(spec: ExperimentSpec, spec_text: str, cluster: Cluster, runs_dir: Path, events: RunEvents,
             prep: Prepared) -> Path:
    t0 = time.monotonic()

    def clock() -> float:
        return time.monotonic() - t0

    pick = prep.pick
    meta = Meta(
        name=spec.name,
        started_at=dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds"),
        t0_monotonic=t0,
        cluster=cluster.describe(),
        entries=prep.entries,
        workload={"service": prep.service, "replicas": prep.replicas,
                  "port": spec.workload.port, "stack": str(spec.workload.stack) if spec.workload.stack else None,
                  "mode": spec.workload.mode, "placement": spec.workload.placement,
                  "max_replicas_per_node": spec.workload.max_replicas_per_node, "entry": spec.workload.entry.kind,
                  "image": spec.workload.image},
        load={"rate": spec.load.rate, "timeout": spec.load.timeout, "client": spec.load.client,
              "keep_alive": spec.load.keep_alive},
        fault=_fault_meta(spec, prep),
        slo=spec.slo.model_dump(),
        analysis=spec.analysis.model_dump(),
    )
    meta.plan = {"steady": spec.phases.steady, "fault": float(str(meta.fault.get("duration", 0.0))),
                 "settle": spec.phases.settle, "timeout": spec.phases.timeout}
    meta.cluster["leader_at_start"] = prep.leader
    if prep.door is not None:
        meta.door = prep.door.describe()
    writer = RunWriter(run_folder(runs_dir, spec.name), meta, spec_text)
    events.folder_made(writer.folder)
    progress = RunProgress(target=pick.node if pick else "", fault=str(meta.fault["kind"]))
    tally = Tally(writer, progress)
    notes = Notes(cluster, spec.name, len(prep.faults))
    faults = [FaultState(fault=p.fault, at=p.at, id=i, notes=notes) for i, p in enumerate(prep.faults)]

    def emit(e: Event) -> None:
        writer.event(e)

    observer = Observer(cluster, prep.service, clock, emit, spec.observe.interval,
                        spec.observe.request_timeout)
    watcher = DoorWatcher(prep.door, clock, emit, spec.observe.interval) if prep.door is not None else None
    parts = RunParts(spec, prep, cluster, clock, writer, observer, tally, progress, faults, events, watcher)
    emit(RunEvent(t=clock(), action="start"))
    error: BaseException | None = None
    applied: dict[str, dict[str, float | int | None]] = {}
    # until the records are closed, Ctrl-C and SIGTERM ask the run to stop and never raise: a second one during
    # the reverts is said and changes nothing (see `stop_signals`)
    with stop_signals() as stops:
        try:
            cluster.watch(lambda kind, data: emit(event(clock(), kind, data)))
            applied = swarm_settings.found(cluster, spec.swarm)  # known before the update: restored whatever happens
            if applied:
                meta.cluster["swarm_settings"] = applied
                writer.write_meta()
                # noted, with a dead-man, before the update: a killed run's settings are put back like its faults
                meta.cluster["swarm_settings_deadman"] = cluster.guard_settings(
                    swarm_settings.before(applied),
                    _settings_lifetime(spec, meta, applied, max((f.fault.deadman for f in faults), default=0.0)))
                swarm_settings.apply(cluster, applied)
                # nodes learn a new heartbeat period in their next heartbeat's answer: one old period on, every
                # node is on the new one, and the fault meets the setting the run asked for
                stops.sleep(swarm_settings.settle_time(applied))
            stops.check()
            observer.start()
            if watcher is not None:
                watcher.start()
            _run_until_stopped(stops, phases(parts))
            meta.status = "complete"
        except KeyboardInterrupt:  # StopRequested: the first stop signal
            meta.status = "interrupted"  # the caller sees it in meta.json; records and revert are done below
        except BaseException as exc:  # raised again once the fault is reverted and the records are closed
            log.debug("run %s failed", spec.name, exc_info=True)
            meta.status, meta.error, error = "failed", f"{type(exc).__name__}: {exc}", exc
        finally:
            revert_error = _finish(parts, lambda: _restore_settings(cluster, applied))
    error = error or revert_error  # a fault left in place must be loud
    try:
        results = write_results(writer.folder)
        events.results_written(*results)  # e.g. the HTML report, from the same reading of the records
        w = spec.workload
        if w.stack is not None and not w.keep_stack:
            c, _ = answering_manager(cluster)
            with contextlib.closing(c):
                stack.remove(c, w.stack_name)
        elif w.stack is None and w.remove_after:
            c, _ = answering_manager(cluster)
            with contextlib.closing(c):
                workload.remove(c, w.service)
    except Exception as exc:
        if error is None:
            raise
        log.warning("after the run's own error, its results or the workload's removal failed too: %s: %s",
                    type(exc).__name__, exc, exc_info=log.isEnabledFor(logging.DEBUG))
    if error is not None:
        raise error
    return writer.folder


def _run_until_stopped(stops: StopSignals, main: Coroutine[object, object, None]) -> None:
    """asyncio.run, the first stop signal cancelling its main task, as asyncio's own Ctrl-C handler does (it
    stands aside when a handler of ours is in place): the phases' `finally` blocks stop the load; StopRequested."""
    async def stoppable() -> None:
        loop, task = asyncio.get_running_loop(), asyncio.current_task()
        assert task is not None
        with stops.calling(lambda: loop.call_soon_threadsafe(task.cancel)):
            await main

    try:
        asyncio.run(stoppable())
    except asyncio.CancelledError:
        if not stops.requested.is_set():
            raise
        raise StopRequested(stops.received[0][1] if stops.received else "stop") from None
    finally:
        main.close()  # never awaited when the signal came before it started: no warning for that


def _settings_lifetime(spec: ExperimentSpec, meta: Meta, applied: dict[str, dict[str, float | int | None]],
                       faults_horizon: float) -> float:
    """How long the run keeps the swarm's settings changed, at most: its dead-man puts them back after that. A
    fault may last longer than its duration (an upgrade of several nodes): its own dead-man's horizon counts."""
    fault = max(float(meta.plan["fault"]), faults_horizon)
    return (swarm_settings.settle_time(applied) + spec.phases.steady + fault + spec.phases.timeout
            + spec.phases.settle + swarm_settings.RESTORE_SLACK)


def _restore_settings(cluster: Cluster, applied: dict[str, dict[str, float | int | None]]) -> None:
    """The settings the run found, back; only then are the note and dead-man dropped (a failed restore leaves
    them for `heal` and the dead-man)."""
    if applied:
        swarm_settings.restore(cluster, applied)
        cluster.guard_settings(None, 0.0)


def _finish(run: RunParts, restore: Callable[[], None] | None = None) -> Exception | None:
    """Revert (if owed), restore the swarm's settings, stop observing, write the last events and meta.json,
    whatever fails on the way; returns the revert's (or the restore's) error, if any."""
    faults, clock, emit, meta = run.faults, run.clock, run.emit, run.writer.meta
    revert_error: Exception | None = None
    unexpected: BaseException | None = None
    steps: list[tuple[str, Callable[[], None]]] = [("revert", lambda: revert_if_needed(faults, clock, emit, meta))]
    if restore is not None:
        steps.append(("swarm settings restore", restore))
    try:
        for what, step in steps:  # each one attempted, whatever the one before did
            try:
                step()
            except REVERT_ERRORS as exc:  # the first error stays the run's error; this one is added to it
                note_failed(meta, what, exc)
                revert_error = revert_error or exc
            except BaseException as exc:  # a bug: said, the next step still runs, then it goes on up
                note_failed(meta, what, exc)
                unexpected = unexpected or exc
        run.observer.stop()
        if run.watcher is not None:
            run.watcher.stop()
    finally:
        run.cluster.watch(None)
        meta.phases.setdefault("end", clock())
        emit(RunEvent(t=clock(), action="end" if meta.status == "complete" else meta.status))
        run.writer.close()
    if unexpected is not None:
        raise unexpected
    return revert_error
