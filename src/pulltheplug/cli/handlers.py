"""The CLI's subscribers to a run's events (run/events.py): the terminal and the live page (the folders made
and the HTML report: `run.events.Folders`, `ReportOnResults(write_html)`)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from pulltheplug.cli.progress import ProgressDisplay
from pulltheplug.live.sidecar import LiveServer
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


class LiveFollow(RunEvents):
    """The live page follows each run as its folder appears, under the label the caller gives it."""

    def __init__(self, server: LiveServer | None, label: Callable[[], str]) -> None:
        self.server = server
        self.label = label

    def folder_made(self, folder: Path) -> None:
        if self.server is not None:
            self.server.follow(folder, self.label())
