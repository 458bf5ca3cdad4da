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
import random
import re
import subprocess
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from pulltheplug.analysis.results import write_results
from pulltheplug.cluster.seam import Cluster, ClusterNode
from pulltheplug.doors import Door, DoorWatcher, make_door
from pulltheplug.doors.service_dns import ensure_network
from pulltheplug.doors.service_dns import wait_answering as wait_in_netns
from pulltheplug.errors import ClusterError, SpecError
from pulltheplug.faults import Fault, make_fault
from pulltheplug.faults.base import FaultContext
from pulltheplug.faults.targets import TargetPick, pick_target
from pulltheplug.live.state import running_per_node
from pulltheplug.load.fast import can_carry, run_fast_load
from pulltheplug.load.prober import RequestShape, run_load, run_load_in_netns
from pulltheplug.observe.observer import Observer
from pulltheplug.records.folder import RunWriter
from pulltheplug.records.model import Event, Meta
from pulltheplug.run import schedule
from pulltheplug.run.progress import OnResults, RunProgress, Tally, named_entries, run_folder
from pulltheplug.run.stop_signals import StopRequested, StopSignals, stop_signals
from pulltheplug.spec import ExperimentSpec, FaultSpec, RequestSpec
from pulltheplug.swarm import settings as swarm_settings
from pulltheplug.swarm import stack, workload
from pulltheplug.swarm.api import API_ERRORS, answering_manager, leader_of, node_rows
from pulltheplug.swarm.health import CLUSTER_FAILURES, require_whole

log = logging.getLogger(__name__)


# what a revert or a restore fails with when the cluster does not do what was asked (anything else is a bug)
REVERT_ERRORS = (*CLUSTER_FAILURES, subprocess.SubprocessError)


@dataclass
class Prepared:
    entries: dict[str, str]
    nodes: list[str]
    replicas: int
    leader: str | None
    pick: TargetPick | None
    service: str  # the Swarm service under load (a stack's is <stack>_<service>)
    door: Door | None = None  # started by `prepare`, closed by `execute` (or `close_door`)
    fault: Fault | None = None  # planned by `prepare`: a shape the cluster cannot form never gets a folder
    faults: list[Planned] = field(default_factory=list)  # the fault, or a schedule's, each at its offset
    schedule_seed: int | None = None  # a random schedule's


@dataclass(frozen=True)
class Planned:
    at: float  # from the end of the steady phase
    fault: Fault
    pick: TargetPick


def _plan_schedule(spec: ExperimentSpec, plan: Callable[[FaultSpec, int], tuple[TargetPick, Fault]]
                   ) -> tuple[int | None, list[Planned]]:
    """The schedule's faults with their targets; a clash on a node refuses a given schedule and drops the
    later fault of a drawn one. Returns the random schedule's seed (None for a given one)."""
    rs = spec.random_schedule
    seed = None
    if rs is not None:
        seed = rs.seed if rs.seed is not None else random.SystemRandom().randrange(2**31)
        entries = schedule.draw(rs, seed)
        if not entries:
            raise SpecError(f"random_schedule: no fault fits in {rs.length:g}s with faults of {rs.duration:g}s "
                            f"(mean interval {rs.mean_interval:g}s, seed {seed}): make it longer")
    else:
        entries = spec.schedule
    base = random.SystemRandom().randrange(2**31)
    planned = []
    for i, e in enumerate(entries):
        pick, fault = plan(e, e.seed if e.seed is not None else base + i)
        planned.append(Planned(e.at, fault, pick))
    slots = [schedule.Slot(i, p.fault.kind, p.at, p.fault.duration, tuple(p.fault.nodes))
             for i, p in enumerate(planned)]
    if rs is None:
        schedule.check(slots)
        return None, planned
    kept = {s.id for s in schedule.drop_clashing(slots)}
    return seed, [p for i, p in enumerate(planned) if i in kept]


def close_door(prep: Prepared | None) -> None:
    """Stop the front door `prepare` started; idempotent."""
    if prep is None:
        return
    door, prep.door = prep.door, None
    if door is None:
        return
    try:
        for line in door.close():
            log.debug("door: %s", line)
    except Exception as exc:  # the run's own outcome (or error) stands; what is left is said
        log.warning("the front door %s was not closed cleanly: %s: %s (`pulltheplug lab down` removes what is "
                    "left in a lab)", door.kind, type(exc).__name__, exc, exc_info=log.isEnabledFor(logging.DEBUG))


@dataclass
class _FaultState:
    """Set from the fault's own thread, so a revert is never missed, whenever the run is interrupted."""

    fault: Fault
    at: float = 0.0
    id: int = 0
    notes: _Notes | None = None
    started: float | None = None  # when its clock started (after its dead-man was armed)
    injected: bool = False
    reverted: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class _Notes:
    """The faults in place, as the cluster remembers them for `heal` and its dead-man after a killed run."""

    def __init__(self, cluster: Cluster, run: str, planned: int = 1) -> None:
        self.cluster, self.run = cluster, run
        self.active: dict[int, dict[str, object]] = {}
        self.pending = set(range(planned))  # faults not reverted yet (injected or still to come)
        self.lock = threading.RLock()

    def add(self, fs: _FaultState) -> None:
        f = fs.fault
        with self.lock:
            self.active[fs.id] = {"kind": f.kind, "node": f.node, "nodes": f.nodes, "id": fs.id}
            self._write()

    def remove(self, fs: _FaultState) -> None:
        with self.lock:
            self.active.pop(fs.id, None)
            self._write()

    def _write(self) -> None:
        if not self.active:
            self.cluster.note_fault(None)
            return
        first = next(iter(self.active.values()))
        since = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        kind = first["kind"] if len(self.active) == 1 else "schedule"
        self.cluster.note_fault({"kind": kind, "node": first["node"], "nodes": first["nodes"], "run": self.run,
                                 "since": since, "faults": list(self.active.values())})


def prepare(spec: ExperimentSpec, cluster: Cluster) -> Prepared:
    """Everything that can fail before a run folder exists: the cluster whole (when asked), workload, entries,
    target."""
    if spec.phases.wait_whole > 0:
        waited = require_whole(cluster, spec.phases.wait_whole)
        log.info("cluster %s whole after %.1f s", cluster.name, waited)
    nodes = cluster.nodes()
    for kind in spec.fault_plan()[0]:
        if kind != "none" and kind not in cluster.fault_kinds:
            raise SpecError(f"fault {kind}: the {cluster.kind} backend cannot inject it yet: use one of "
                            f"{', '.join(sorted(cluster.fault_kinds))}")
    c, swarm_nodes = answering_manager(cluster)
    try:
        w = spec.workload
        replicas = None if w.mode == "global" else (w.replicas or len(nodes))
        mesh = w.entry.kind == "mesh"
        if mesh and (reason := cluster.routing_mesh()) is not None:
            raise SpecError(f"workload.entry mesh needs Swarm's routing mesh, and {reason}: use entry haproxy "
                            "or vip, or nodes")
        service = w.service
        if w.stack is not None:  # your own service: checked whole before anything is loaded or deployed
            compose = stack.read_compose(w.stack)
            svc = stack.probed(compose, w.service, w.port, mesh)
            service, replicas = stack.full_name(w.stack_name, w.service), svc.replicas
            _load_images(cluster, nodes, w.images)
            stack.deploy(c, w.stack_name, compose)
        elif w.deploy:
            _load_images(cluster, nodes, w.images)
            networks = []
            if w.entry.kind == "service-dns":
                ensure_network(c, w.entry.service_dns.network)
                networks = [w.entry.service_dns.network]
            workload.deploy_probe(c, w.service, replicas, w.port, w.image, w.placement, w.max_replicas_per_node,
                                  mesh, networks)
        elif not workload.exists(c, w.service):
            raise SpecError(f"workload.service {w.service} does not exist on {cluster.name}: deploy it, "
                            "or set workload.deploy: true to let pulltheplug deploy the probe")
        workload.wait_running(c, service, replicas or 1, spec.phases.timeout)
        serving = workload.task_node_ids(c, service)
        ids = {r["id"]: r["name"] for r in node_rows(swarm_nodes)}
        with_task = [n for n in nodes if n.name in {ids.get(i) for i in serving}]
        leader = leader_of(swarm_nodes)
        prep = Prepared({}, [n.name for n in nodes], replicas or len(serving), leader, None, service)
        try:
            prep.door = make_door(w, cluster, nodes, spec.load.timeout, service)
            holder, avoid = (prep.door.holder(), prep.door.avoid()) if prep.door is not None else (None, None)

            def plan(f: FaultSpec, seed: int) -> tuple[TargetPick, Fault]:
                # a task-kill needs a task: random picks only among the nodes that run one
                pool = with_task if f.kind == "task-kill" and with_task else nodes
                pick = pick_target(f.target, pool, leader, seed, holder, avoid)
                return pick, make_fault(f.kind, cluster, pick.node, f.duration, f,
                                        FaultContext(nodes, leader, service, seed, [n.name for n in with_task]))

            # an unseeded random pick still gets a seed, recorded, so the run can be repeated
            if spec.schedule or spec.random_schedule is not None:
                prep.schedule_seed, planned = _plan_schedule(spec, plan)
                prep.faults = planned
                prep.pick = planned[0].pick if planned else None
            elif spec.fault.kind != "none":
                seed = spec.fault.seed if spec.fault.seed is not None else random.SystemRandom().randrange(2**31)
                prep.pick, prep.fault = plan(spec.fault, seed)
                prep.faults = [Planned(0.0, prep.fault, prep.pick)]
            # straight to the nodes: those a task serves on (a host-mode port answers only there)
            # the mesh answers on every node, with a task or not
            prep.entries = prep.door.entries() if prep.door is not None else \
                _node_entries(spec, nodes if mesh else (with_task or nodes))
            allowed = {n.address for n in nodes}
            if prep.door is not None:  # the door's own address, which pulltheplug made
                allowed |= {urlsplit(u).hostname or "" for u in prep.entries.values()}
            for url in prep.entries.values():
                workload.check_entry(url, allowed)
            if prep.door is not None and prep.door.netns is not None:  # from inside the swarm
                wait_in_netns(prep.door.netns, prep.entries, spec.phases.timeout)
            else:
                shape = request_shape(w.request)
                workload.wait_answering(prep.entries, spec.phases.timeout, shape.method, shape.body,
                                        shape.expect_status)
        except BaseException:
            close_door(prep)
            if w.stack is not None and not w.keep_stack:  # nothing of a refused run stays deployed
                with contextlib.suppress(*API_ERRORS):
                    stack.remove(c, w.stack_name)
            raise
        return prep
    finally:
        c.close()


def _load_images(cluster: Cluster, nodes: list[ClusterNode], archives: list[Path]) -> None:
    if not archives:
        return
    clients = [(n.name, cluster.docker_client(n.name, timeout=120)) for n in nodes]
    try:
        stack.load_images(clients, archives)
    finally:
        for _, client in clients:
            client.close()


def request_shape(r: RequestSpec) -> RequestShape:
    return RequestShape(method=r.method, body=r.body.encode() if r.body is not None else None,
                        expect_status=r.expect_status,
                        expect_body=re.compile(r.expect_body.encode()) if r.expect_body is not None else None)


def _node_entries(spec: ExperimentSpec, nodes: list[ClusterNode]) -> dict[str, str]:
    w = spec.workload
    path = w.path if w.path.startswith("/") else "/" + w.path
    if w.entries:
        return named_entries(w.entries)
    return {n.name: f"http://{n.address}:{w.port}{path}" for n in nodes}


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
    on_progress: Callable[[RunProgress], None] | None = None,
    prepared: Prepared | None = None,
    on_folder: Callable[[Path], None] | None = None,
    on_results: OnResults | None = None,
) -> Path:
    """Run the experiment; returns the run folder. Ctrl-C (or SIGTERM) ends it early: the fault is reverted,
    the records kept, and meta.json says `interrupted`. A run that fails raises once its records, summary
    and report are written; `on_folder` learns the folder as soon as it exists, so a caller can still judge
    such a run. `on_results` gets the records, summary and verdict as `summary.json` is written (the caller
renders reports: the runner knows none)."""
    prep = prepared or prepare(spec, cluster)
    try:
        return _execute(spec, spec_text, cluster, runs_dir, on_progress, prep, on_folder, on_results)
    finally:
        close_door(prep)  # also when the run never started: nothing of the door outlives it


def _execute(spec: ExperimentSpec, spec_text: str, cluster: Cluster, runs_dir: Path,
             on_progress: Callable[[RunProgress], None] | None, prep: Prepared,
             on_folder: Callable[[Path], None] | None, on_results: OnResults | None) -> Path:
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
    if on_folder is not None:
        on_folder(writer.folder)
    progress = RunProgress(target=pick.node if pick else "", fault=str(meta.fault["kind"]))
    tally = Tally(writer, progress)
    notes = _Notes(cluster, spec.name, len(prep.faults))
    faults = [_FaultState(fault=p.fault, at=p.at, id=i, notes=notes) for i, p in enumerate(prep.faults)]

    def emit(e: Event) -> None:
        writer.event(e)

    observer = Observer(cluster, prep.service, clock, emit, spec.observe.interval,
                        spec.observe.request_timeout)
    watcher = DoorWatcher(prep.door, clock, emit, spec.observe.interval) if prep.door is not None else None
    emit(Event(clock(), "run", {"action": "start"}))
    error: BaseException | None = None
    applied: dict[str, dict[str, float | int | None]] = {}
    # until the records are closed, Ctrl-C and SIGTERM ask the run to stop and never raise: a second one during
    # the reverts is said and changes nothing (see `stop_signals`)
    with stop_signals() as stops:
        try:
            cluster.watch(lambda kind, data: emit(Event(clock(), kind, data)))
            applied = swarm_settings.found(cluster, spec.swarm)  # known before the update: restored whatever happens
            if applied:
                meta.cluster["swarm_settings"] = applied
                writer.write_meta()
                # noted, with a dead-man, before the update: a killed run's settings are put back like its faults
                meta.cluster["swarm_settings_deadman"] = cluster.guard_settings(
                    swarm_settings.before(applied), _settings_lifetime(spec, meta, applied))
                swarm_settings.apply(cluster, applied)
                # nodes learn a new heartbeat period in their next heartbeat's answer: one old period on, every
                # node is on the new one, and the fault meets the setting the run asked for
                stops.sleep(swarm_settings.settle_time(applied))
            stops.check()
            observer.start()
            if watcher is not None:
                watcher.start()
            _run_until_stopped(stops, _phases(spec, prep, clock, writer, observer, tally, progress, faults, emit,
                                              on_progress))
            meta.status = "complete"
        except KeyboardInterrupt:  # StopRequested: the first stop signal
            meta.status = "interrupted"  # the caller sees it in meta.json; records and revert are done below
        except BaseException as exc:  # raised again once the fault is reverted and the records are closed
            log.debug("run %s failed", spec.name, exc_info=True)
            meta.status, meta.error, error = "failed", f"{type(exc).__name__}: {exc}", exc
        finally:
            revert_error = _finish(faults, clock, emit, meta, observer, writer, cluster, watcher,
                                   lambda: _restore_settings(cluster, applied))
    error = error or revert_error  # a fault left in place must be loud
    try:
        results = write_results(writer.folder)
        if on_results is not None:
            on_results(*results)  # e.g. the HTML report, from the same reading of the records
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


def _settings_lifetime(spec: ExperimentSpec, meta: Meta, applied: dict[str, dict[str, float | int | None]]) -> float:
    """How long the run keeps the swarm's settings changed, at most: its dead-man puts them back after that."""
    return (swarm_settings.settle_time(applied) + spec.phases.steady + float(meta.plan["fault"]) + spec.phases.timeout
            + spec.phases.settle + swarm_settings.RESTORE_SLACK)


def _restore_settings(cluster: Cluster, applied: dict[str, dict[str, float | int | None]]) -> None:
    """The settings the run found, back; only then are the note and dead-man dropped (a failed restore leaves
    them for `heal` and the dead-man)."""
    if applied:
        swarm_settings.restore(cluster, applied)
        cluster.guard_settings(None, 0.0)


def _finish(faults: list[_FaultState], clock: Callable[[], float], emit: Callable[[Event], None], meta: Meta,
            observer: Observer, writer: RunWriter, cluster: Cluster,
            watcher: DoorWatcher | None = None, restore: Callable[[], None] | None = None) -> Exception | None:
    """Revert (if owed), restore the swarm's settings, stop observing, write the last events and meta.json,
    whatever fails on the way; returns the revert's (or the restore's) error, if any."""
    revert_error: Exception | None = None
    unexpected: BaseException | None = None
    steps: list[tuple[str, Callable[[], None]]] = [("revert", lambda: _revert_if_needed(faults, clock, emit, meta))]
    if restore is not None:
        steps.append(("swarm settings restore", restore))
    try:
        for what, step in steps:  # each one attempted, whatever the one before did
            try:
                step()
            except REVERT_ERRORS as exc:  # the first error stays the run's error; this one is added to it
                _note_failed(meta, what, exc)
                revert_error = revert_error or exc
            except BaseException as exc:  # a bug: said, the next step still runs, then it goes on up
                _note_failed(meta, what, exc)
                unexpected = unexpected or exc
        observer.stop()
        if watcher is not None:
            watcher.stop()
    finally:
        cluster.watch(None)
        meta.phases.setdefault("end", clock())
        emit(Event(clock(), "run", {"action": "end" if meta.status == "complete" else meta.status}))
        writer.close()
    if unexpected is not None:
        raise unexpected
    return revert_error


def _note_failed(meta: Meta, what: str, exc: BaseException) -> None:
    log.warning("%s failed: %s: %s", what, type(exc).__name__, exc, exc_info=log.isEnabledFor(logging.DEBUG))
    meta.status = "failed"
    meta.error = "; ".join(x for x in (meta.error, f"{what} failed: {type(exc).__name__}: {exc}") if x)


def _fields(fs: _FaultState) -> dict[str, object]:
    return {"id": fs.id, "kind": fs.fault.kind, "node": fs.fault.node, "nodes": fs.fault.nodes}


def _inject(fs: _FaultState, clock: Callable[[], float], emit: Callable[[Event], None], meta: Meta) -> None:
    notes = fs.notes or _Notes(fs.fault.cluster, meta.name)
    with fs.lock:
        notes.add(fs)
        try:
            armed = fs.fault.arm()  # before the fault's clock: the fault starts when it is sent
        except BaseException:
            notes.remove(fs)  # nothing was injected
            raise
        fs.injected = True  # from here on, a revert is owed even if inject fails half way
        with notes.lock:
            t = fs.started = clock()
            if "fault" not in meta.phases:  # the first fault starts the fault phase
                meta.phases["fault"] = t
                emit(Event(t, "phase", {"phase": "fault"}))
            emit(Event(t, "fault", {"action": "inject", **_fields(fs), **({"deadman": armed} if armed else {})}))
        evidence = fs.fault.inject()
        emit(Event(clock(), "fault", {"action": "injected", **_fields(fs), "evidence": evidence}))


def _revert(fs: _FaultState, clock: Callable[[], float], emit: Callable[[Event], None], meta: Meta) -> None:
    notes = fs.notes or _Notes(fs.fault.cluster, meta.name)
    with fs.lock:
        if not fs.injected or fs.reverted:
            return
        with notes.lock:
            t = clock()
            notes.pending.discard(fs.id)
            if not notes.pending:  # the last fault's revert starts the recovery phase
                meta.phases["revert"] = t
                emit(Event(t, "phase", {"phase": "recovery"}))
            emit(Event(t, "fault", {"action": "revert", **_fields(fs)}))
        fs.fault.disarm()  # before the revert: a dead-man firing in the middle of it would heal concurrently
        try:
            evidence = fs.fault.revert()
        except BaseException:
            try:  # the fault may still be in place: leave a dead-man to heal it
                fs.fault.arm()
            except REVERT_ERRORS as exc:
                log.warning("could not arm a dead-man again after a failed revert: %s: %s", type(exc).__name__, exc)
            raise
        fs.reverted = True
        notes.remove(fs)
        emit(Event(clock(), "fault", {"action": "reverted", **_fields(fs), "evidence": evidence}))


def _revert_if_needed(faults: list[_FaultState], clock: Callable[[], float], emit: Callable[[Event], None],
                      meta: Meta) -> None:
    """Every fault still in place, the last injected first."""
    errors: list[BaseException] = []
    unexpected: list[BaseException] = []
    for fs in reversed(faults):
        if fs.injected and not fs.reverted:
            try:
                _revert(fs, clock, emit, meta)
            except REVERT_ERRORS as exc:  # the others are reverted all the same; the first error is raised
                log.warning("revert of %s on %s failed: %s: %s", fs.fault.kind, fs.fault.node, type(exc).__name__, exc)
                errors.append(exc)
            except BaseException as exc:  # a bug: the others are reverted first, then it goes on up
                log.error("revert of %s on %s failed: %s: %s", fs.fault.kind, fs.fault.node, type(exc).__name__, exc)
                unexpected.append(exc)
    if unexpected or errors:
        raise (unexpected or errors)[0]


async def _run_faults(spec: ExperimentSpec, faults: list[_FaultState], clock: Callable[[], float],
                      emit: Callable[[Event], None], writer: RunWriter, progress: RunProgress,
                      load: asyncio.Task[object]) -> None:
    """Each fault at its offset from now, for its duration; overlapping ones run side by side."""
    loop = asyncio.get_running_loop()
    meta = writer.meta
    start = clock()

    async def one(fs: _FaultState, before: list[int]) -> None:
        await _sleep_or_fail(max(0.0, start + fs.at - clock()), load)
        if before:  # an earlier fault on one of its nodes is still being reverted (a boot): it goes first
            await asyncio.wait([tasks[i] for i in before])
        label = f"{fs.fault.kind} on {fs.fault.node}"
        progress.phase = f"fault: {label}" if len(faults) == 1 else f"fault {fs.id + 1}/{len(faults)}: {label}"
        progress.phase_until = start + meta.plan["fault"]
        await loop.run_in_executor(None, _inject, fs, clock, emit, meta)
        writer.write_meta()
        # the fault lasts `duration` from its start, however long the inject took to confirm (over SSH a
        # nic-down is confirmed by the session dying, seconds later, and its dead-man counts from the cut)
        began = fs.started if fs.started is not None else clock()
        if len(faults) == 1:
            progress.phase_until = began + fs.fault.duration
        await _sleep_or_fail(max(0.0, began + fs.fault.duration - clock()), load)
        progress.phase, progress.phase_until = "revert", None
        await loop.run_in_executor(None, _revert, fs, clock, emit, meta)
        writer.write_meta()

    tasks = {fs.id: asyncio.create_task(one(fs, _before(fs, faults))) for fs in faults}
    try:
        await asyncio.gather(*tasks.values())
    finally:
        for t in tasks.values():
            t.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)


def _before(fs: _FaultState, faults: list[_FaultState]) -> list[int]:
    """The faults planned before this one that touch one of its nodes."""
    return [o.id for o in faults if (o.at, o.id) < (fs.at, fs.id) and set(o.fault.nodes) & set(fs.fault.nodes)]


async def _phases(spec: ExperimentSpec, prep: Prepared, clock: Callable[[], float], writer: RunWriter,
                  observer: Observer, tally: Tally, progress: RunProgress, faults: list[_FaultState],
                  emit: Callable[[Event], None], on_progress: Callable[[RunProgress], None] | None) -> None:
    meta = writer.meta
    stop = asyncio.Event()
    meta.phases["steady"] = clock()
    emit(Event(clock(), "phase", {"phase": "steady"}))
    progress.phase, progress.phase_until = "steady", clock() + spec.phases.steady
    writer.write_meta()
    shape = request_shape(spec.workload.request)
    door = prep.door
    if door is not None and door.netns is not None:  # from inside the swarm (a client container)
        load = asyncio.create_task(run_load_in_netns(
            door.netns, stop, door.resolver, entries=prep.entries, rate=spec.load.rate, timeout=spec.load.timeout,
            t0=meta.t0_monotonic, on_record=tally, max_in_flight=spec.load.max_in_flight, shape=shape))
    elif spec.load.client == "fast" and can_carry(list(prep.entries.values())):
        load = asyncio.create_task(run_fast_load(prep.entries, spec.load.rate, spec.load.timeout, meta.t0_monotonic,
                                                 stop, tally, spec.load.max_in_flight, shape,
                                                 keep_alive=spec.load.keep_alive))
    else:
        load = asyncio.create_task(run_load(prep.entries, spec.load.rate, spec.load.timeout, meta.t0_monotonic,
                                            stop, tally, spec.load.max_in_flight, shape))
    ticker = asyncio.create_task(_tick(clock, observer, tally, on_progress))
    try:
        await _sleep_or_fail(spec.phases.steady, load)
        if faults:
            await _run_faults(spec, faults, clock, emit, writer, progress, load)
        else:
            await _sleep_or_fail(spec.fault.duration, load)
        progress.phase, progress.phase_until = "recovery", clock() + spec.phases.timeout
        converged = await _until_converged(spec, prep, clock, observer, tally, load)
        if converged is not None:
            meta.phases["converged"] = converged
        else:
            meta.error = f"did not converge within {spec.phases.timeout:.0f}s after the revert"
    finally:
        stop.set()
        ticker.cancel()
        meta.phases["end"] = clock()
        emit(Event(clock(), "phase", {"phase": "end"}))
        await asyncio.gather(load, ticker, return_exceptions=True)
        if not ticker.cancelled() and ticker.exception() is not None:
            log.warning("the progress ticker failed", exc_info=ticker.exception())
        if load.done() and not load.cancelled():
            if load.exception() is not None:
                raise load.exception()  # type: ignore[misc]
            stats = load.result()
            meta.load.update(sent=stats.sent, max_lag=round(stats.max_lag, 6), peak_in_flight=stats.peak_in_flight)


async def _sleep_or_fail(seconds: float, load: asyncio.Task[object]) -> None:
    """Sleep, but stop at once if the load died (its error is the run's error)."""
    done, _ = await asyncio.wait({load}, timeout=seconds)
    if done:
        exc = load.exception()
        raise exc if exc else ClusterError("the load stopped before the run ended")


async def _until_converged(spec: ExperimentSpec, prep: Prepared, clock: Callable[[], float],
                           observer: Observer, tally: Tally, load: asyncio.Task[object]) -> float | None:
    """Every node Ready, every desired task running, and no failed request for `settle` seconds.

    Returns when the cluster side converged (and stayed so), or None on timeout.
    """
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
        await _sleep_or_fail(0.25, load)
    return None


async def _tick(clock: Callable[[], float], observer: Observer, tally: Tally,
                on_progress: Callable[[RunProgress], None] | None) -> None:
    while on_progress is not None:
        v = observer.snapshot()
        progress = tally.progress_at(clock())
        progress.nodes = {n: row["state"] for n, row in v.nodes.items()}
        progress.leader = v.leader
        progress.control_plane = v.control_plane
        progress.tasks = running_per_node(v.tasks.values())
        on_progress(progress)
        await asyncio.sleep(0.5)


