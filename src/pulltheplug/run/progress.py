"""What every run keeps as it goes, whatever runs it (an experiment, a load test): its progress for the
terminal, the tally that writes each request at once, and where its folder goes."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from pulltheplug.live.state import OpenOutage, RecentRates, longest_open
from pulltheplug.records.folder import RunWriter
from pulltheplug.records.model import RequestRecord


@dataclass
class RunProgress:
    """What the terminal shows while a run goes on."""

    phase: str = "starting"
    elapsed: float = 0.0
    ok: int = 0
    fail: int = 0
    info: int = 0
    target: str = ""
    fault: str = ""
    nodes: dict[str, str] = field(default_factory=dict)
    leader: str | None = None
    control_plane: bool | None = None
    phase_until: float | None = None  # run seconds when the phase is planned to end (recovery: its timeout)
    rates: dict[str, int] = field(default_factory=dict)  # requests finished in the last second, by outcome
    outage: tuple[str, float] | None = None  # the entry whose outage is still open, and its length so far
    tasks: dict[str, int] = field(default_factory=dict)  # node -> running tasks of the service
    cluster: bool = True  # False for `pulltheplug load`: no nodes, leader or control plane to show

    @property
    def phase_left(self) -> float | None:
        return None if self.phase_until is None else max(self.phase_until - self.elapsed, 0.0)


class Tally:
    """Writes each request at once and keeps what convergence needs (when the last failure was due)."""

    def __init__(self, writer: RunWriter, progress: RunProgress) -> None:
        self.writer = writer
        self.progress = progress
        self.last_bad_due = -1.0
        self.recent = RecentRates()
        self.outages: dict[str, OpenOutage] = {}

    def progress_at(self, now: float) -> RunProgress:
        """The progress with what users felt brought up to `now`: the last second, the open outage."""
        p = self.progress
        p.elapsed, p.rates, p.outage = now, self.recent.at(now), longest_open(self.outages, now)
        return p

    def __call__(self, r: RequestRecord) -> None:
        self.writer.request(r)
        if not r.was_sent:
            return
        self.recent.add(r.end, r.outcome)
        self.outages.setdefault(r.target, OpenOutage()).add(r.due, r.outcome == "ok")
        if r.outcome == "ok":
            self.progress.ok += 1
        else:
            self.last_bad_due = max(self.last_bad_due, r.due)
            if r.outcome == "fail":
                self.progress.fail += 1
            else:
                self.progress.info += 1


def named_entries(urls: list[str]) -> dict[str, str]:
    """Entry name -> URL: each named by its host:port, or by its whole URL where two share a host:port."""
    names = [urlsplit(u).netloc or u for u in urls]
    return {(n if names.count(n) == 1 else u): u for n, u in zip(names, urls, strict=True)}


def run_folder(runs_dir: Path, name: str) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    folder = runs_dir / f"{stamp}-{name}"
    i = 1
    while folder.exists():
        i += 1
        folder = runs_dir / f"{stamp}-{name}-{i}"
    return folder
