"""What a running experiment is made of, in one object the runner's steps share: its spec and preparation,
its clock, the records being written, the observer, the tally of requests, the faults, and who hears it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from pulltheplug.cluster.seam import Cluster
from pulltheplug.doors import DoorWatcher
from pulltheplug.observe.observer import Observer
from pulltheplug.records.events import Event
from pulltheplug.records.folder import RunWriter
from pulltheplug.run.events import RunEvents
from pulltheplug.run.fault_steps import FaultState
from pulltheplug.run.preparation import Prepared
from pulltheplug.run.progress import RunProgress, Tally
from pulltheplug.spec import ExperimentSpec


@dataclass
class RunParts:
    spec: ExperimentSpec
    prep: Prepared
    cluster: Cluster
    clock: Callable[[], float]  # run seconds
    writer: RunWriter  # its meta is the run's meta.json
    observer: Observer
    tally: Tally
    progress: RunProgress
    faults: list[FaultState]
    events: RunEvents
    watcher: DoorWatcher | None = None

    def emit(self, e: Event) -> None:
        self.writer.event(e)
