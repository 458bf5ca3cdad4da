"""A run's faults, step by step: each injected at its offset and reverted (once, whatever happens), with the
lab's fault note and dead-man kept up to date and every step's evidence in the history.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import subprocess
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pulltheplug.cluster.seam import Cluster
from pulltheplug.errors import ClusterError
from pulltheplug.faults import Fault
from pulltheplug.records.events import Event, FaultEvent, PhaseEvent
from pulltheplug.records.folder import RunWriter
from pulltheplug.records.model import Meta
from pulltheplug.run.progress import RunProgress
from pulltheplug.spec import ExperimentSpec
from pulltheplug.swarm.health import CLUSTER_FAILURES

log = logging.getLogger(__name__)


# what a revert or a restore fails with when the cluster does not do what was asked (anything else is a bug)
REVERT_ERRORS = (*CLUSTER_FAILURES, subprocess.SubprocessError)


@dataclass
class FaultState:
    """Set from the fault's own thread, so a revert is never missed, whenever the run is interrupted."""

    fault: Fault
    at: float = 0.0
    id: int = 0
    notes: Notes | None = None
    started: float | None = None  # when its clock started (after its dead-man was armed)
    injected: bool = False
    reverted: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)


class Notes:
    """The faults in place, as the cluster remembers them for `heal` and its dead-man after a killed run."""

    def __init__(self, cluster: Cluster, run: str, planned: int = 1) -> None:
        self.cluster, self.run = cluster, run
        self.active: dict[int, dict[str, object]] = {}
        self.pending = set(range(planned))  # faults not reverted yet (injected or still to come)
        self.lock = threading.RLock()

    def add(self, fs: FaultState) -> None:
        f = fs.fault
        with self.lock:
            self.active[fs.id] = {"kind": f.kind, "node": f.node, "nodes": f.nodes, "id": fs.id}
            self._write()

    def remove(self, fs: FaultState) -> None:
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


def note_failed(meta: Meta, what: str, exc: BaseException) -> None:
    log.warning("%s failed: %s: %s", what, type(exc).__name__, exc, exc_info=log.isEnabledFor(logging.DEBUG))
    meta.status = "failed"
    meta.error = "; ".join(x for x in (meta.error, f"{what} failed: {type(exc).__name__}: {exc}") if x)


def _step(fs: FaultState, t: float, action: str, **more: Any) -> FaultEvent:
    return FaultEvent(t=t, action=action, id=fs.id, kind=fs.fault.kind, node=fs.fault.node,
                      nodes=tuple(fs.fault.nodes), **more)


def inject(fs: FaultState, clock: Callable[[], float], emit: Callable[[Event], None], meta: Meta) -> None:
    notes = fs.notes or Notes(fs.fault.cluster, meta.name)
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
                emit(PhaseEvent(t=t, phase="fault"))
            emit(_step(fs, t, "inject", deadman=armed or None))
        evidence = fs.fault.inject()
        emit(_step(fs, clock(), "injected", evidence=evidence))


def revert(fs: FaultState, clock: Callable[[], float], emit: Callable[[Event], None], meta: Meta) -> None:
    notes = fs.notes or Notes(fs.fault.cluster, meta.name)
    with fs.lock:
        if not fs.injected or fs.reverted:
            return
        with notes.lock:
            t = clock()
            notes.pending.discard(fs.id)
            if not notes.pending:  # the last fault's revert starts the recovery phase
                meta.phases["revert"] = t
                emit(PhaseEvent(t=t, phase="recovery"))
            emit(_step(fs, t, "revert"))
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
        emit(_step(fs, clock(), "reverted", evidence=evidence))


def revert_if_needed(faults: list[FaultState], clock: Callable[[], float], emit: Callable[[Event], None],
                      meta: Meta) -> None:
    """Every fault still in place, the last injected first."""
    errors: list[BaseException] = []
    unexpected: list[BaseException] = []
    for fs in reversed(faults):
        if fs.injected and not fs.reverted:
            try:
                revert(fs, clock, emit, meta)
            except REVERT_ERRORS as exc:  # the others are reverted all the same; the first error is raised
                log.warning("revert of %s on %s failed: %s: %s", fs.fault.kind, fs.fault.node, type(exc).__name__, exc)
                errors.append(exc)
            except BaseException as exc:  # a bug: the others are reverted first, then it goes on up
                log.error("revert of %s on %s failed: %s: %s", fs.fault.kind, fs.fault.node, type(exc).__name__, exc)
                unexpected.append(exc)
    if unexpected or errors:
        raise (unexpected or errors)[0]


async def run_faults(spec: ExperimentSpec, faults: list[FaultState], clock: Callable[[], float],
                      emit: Callable[[Event], None], writer: RunWriter, progress: RunProgress,
                      load: asyncio.Task[object]) -> None:
    """Each fault at its offset from now, for its duration; overlapping ones run side by side."""
    loop = asyncio.get_running_loop()
    meta = writer.meta
    start = clock()

    async def one(fs: FaultState, before: list[int]) -> None:
        await sleep_or_fail(max(0.0, start + fs.at - clock()), load)
        if before:  # an earlier fault on one of its nodes is still being reverted (a boot): it goes first
            await asyncio.wait([tasks[i] for i in before])
        label = f"{fs.fault.kind} on {fs.fault.node}"
        progress.phase = f"fault: {label}" if len(faults) == 1 else f"fault {fs.id + 1}/{len(faults)}: {label}"
        progress.phase_until = start + meta.plan["fault"]
        await loop.run_in_executor(None, inject, fs, clock, emit, meta)
        writer.write_meta()
        # the fault lasts `duration` from its start, however long the inject took to confirm (over SSH a
        # nic-down is confirmed by the session dying, seconds later, and its dead-man counts from the cut)
        began = fs.started if fs.started is not None else clock()
        if len(faults) == 1:
            progress.phase_until = began + fs.fault.duration
        await sleep_or_fail(max(0.0, began + fs.fault.duration - clock()), load)
        progress.phase, progress.phase_until = "revert", None
        await loop.run_in_executor(None, revert, fs, clock, emit, meta)
        writer.write_meta()

    tasks = {fs.id: asyncio.create_task(one(fs, _before(fs, faults))) for fs in faults}
    try:
        await asyncio.gather(*tasks.values())
    finally:
        for fs in faults:  # an inject still running in its thread stops between its steps
            fs.fault.cancel()
        for t in tasks.values():
            t.cancel()
        await asyncio.gather(*tasks.values(), return_exceptions=True)


def _before(fs: FaultState, faults: list[FaultState]) -> list[int]:
    """The faults planned before this one that touch one of its nodes."""
    return [o.id for o in faults if (o.at, o.id) < (fs.at, fs.id) and set(o.fault.nodes) & set(fs.fault.nodes)]


async def sleep_or_fail(seconds: float, load: asyncio.Task[object]) -> None:
    """Sleep, but stop at once if the load died (its error is the run's error)."""
    done, _ = await asyncio.wait({load}, timeout=seconds)
    if done:
        exc = load.exception()
        raise exc if exc else ClusterError("the load stopped before the run ended")
