"""The CLI's subscribers to a run's events (run/events.py): the terminal, the HTML report, the live page."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pulltheplug.analysis import Summary
from pulltheplug.analysis.verdict import SloResult
from pulltheplug.cli.progress import ProgressDisplay
from pulltheplug.live.sidecar import LiveServer
from pulltheplug.records.model import Run
from pulltheplug.report.html import write_html
from pulltheplug.run.events import RunEvents
from pulltheplug.run.progress import RunProgress
from pulltheplug.spec.campaign_plan import PlannedRun


class Terminal(RunEvents):
    """The progress panel (or log lines), each campaign run's title and the campaign's notes."""

    def __init__(self, display: ProgressDisplay) -> None:
        self.display = display

    def progressed(self, progress: RunProgress) -> None:
        self.display.update(progress)

    def campaign_run(self, run: PlannedRun, total: int) -> None:
        self.display.title = f"[bold]run {run.number} of {total}:[/] {run.scenario} rep {run.repetition}"
        self.display.note(self.display.title)
        self.display.status("preparing: workload, entries, target")

    def noted(self, message: str) -> None:
        self.display.note(f"[yellow]{message}[/]")


class HtmlReport(RunEvents):
    """report.html beside summary.json, from the same reading of the records."""

    def results_written(self, run: Run, summary: Summary, slos: list[SloResult]) -> None:
        write_html(run, summary, slos)


class Folders(RunEvents):
    """The run folders made, in order: a failed run is still judged from its folder."""

    def __init__(self) -> None:
        self.made: list[Path] = []

    def folder_made(self, folder: Path) -> None:
        self.made.append(folder)


class LiveFollow(RunEvents):
    """The live page follows each run as its folder appears, under the label the caller gives it."""

    def __init__(self, server: LiveServer | None, label: Callable[[], str]) -> None:
        self.server = server
        self.label = label

    def folder_made(self, folder: Path) -> None:
        if self.server is not None:
            self.server.follow(folder, self.label())
