"""What a run's caller hears as the run goes, as one interface (as chaostoolkit-lib's `RunEventHandler`): the
terminal, the live page, the reports and a campaign subscribe to it instead of passing callbacks one by one.

Every method does nothing by default: a handler overrides what it needs. `EventRegistry` makes several handlers
one; each hears every event in the order it was registered, and an exception in one is the run's (a report
that cannot be written is an error the caller must see).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pulltheplug.analysis import Summary
from pulltheplug.analysis.verdict import SloResult
from pulltheplug.records.model import Run
from pulltheplug.run.progress import RunProgress
from pulltheplug.spec.campaign_plan import PlannedRun


class RunEvents:
    """A run's events; subclass and override the ones you need."""

    def folder_made(self, folder: Path) -> None:
        """The run folder exists (before anything is measured): a run that fails later can still be judged."""

    def progressed(self, progress: RunProgress) -> None:
        """About twice a second: the phase, what users felt in the last second, the nodes."""

    def results_written(self, run: Run, summary: Summary, slos: list[SloResult]) -> None:
        """summary.json is written: the records, summary and verdict, read once (the caller renders reports:
        the runner knows none)."""

    def campaign_run(self, run: PlannedRun, total: int) -> None:
        """A campaign starts its run `run.number` of `total`."""

    def noted(self, message: str) -> None:
        """A campaign's note: a rebuild, a failed run, a stop."""


class Folders(RunEvents):
    """The run folders made, in order: a failed run is still judged from its folder."""

    def __init__(self) -> None:
        self.made: list[Path] = []

    def folder_made(self, folder: Path) -> None:
        self.made.append(folder)


class ReportOnResults(RunEvents):
    """A report beside summary.json, from the same reading of the records, by the renderer the caller passes in
    (runners never render reports themselves: `report.html.write_html` for the HTML one)."""

    def __init__(self, render: Callable[[Run, Summary, list[SloResult]], object]) -> None:
        self.render = render

    def results_written(self, run: Run, summary: Summary, slos: list[SloResult]) -> None:
        self.render(run, summary, slos)


class EventRegistry(RunEvents):
    """Several handlers as one."""

    def __init__(self, *handlers: RunEvents) -> None:
        self.handlers = list(handlers)

    def register(self, handler: RunEvents) -> None:
        self.handlers.append(handler)

    def folder_made(self, folder: Path) -> None:
        for h in self.handlers:
            h.folder_made(folder)

    def progressed(self, progress: RunProgress) -> None:
        for h in self.handlers:
            h.progressed(progress)

    def results_written(self, run: Run, summary: Summary, slos: list[SloResult]) -> None:
        for h in self.handlers:
            h.results_written(run, summary, slos)

    def campaign_run(self, run: PlannedRun, total: int) -> None:
        for h in self.handlers:
            h.campaign_run(run, total)

    def noted(self, message: str) -> None:
        for h in self.handlers:
            h.noted(message)
