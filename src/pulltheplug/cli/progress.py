"""A run as it goes, in the terminal: a live panel on a terminal, plain progress lines elsewhere (CI logs).

The panel shows what a person watching a fault asks: which phase and how long it has left, what users
felt in the last second, how long the outage still open has lasted, each node's state and tasks, and the
leader. In a log, the same facts go out as one line at each phase change and every `PLAIN_EVERY` seconds.
"""

from __future__ import annotations

import time
from types import TracebackType

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.table import Table
from rich.text import Text

from pulltheplug.naming import node_sort_key
from pulltheplug.run.progress import RunProgress

PLAIN_EVERY = 5.0  # seconds between two progress lines in a log (and at every phase change)
STATE_STYLE = {"ready": "green", "down": "bold red", "unknown": "yellow", "disconnected": "red"}


def _left(p: RunProgress) -> str:
    left = p.phase_left
    if left is None:
        return ""
    return f"up to {left:.0f}s left" if p.phase == "recovery" else f"{left:.0f}s left"


def _outage(p: RunProgress) -> str:
    return "none" if p.outage is None else f"{p.outage[1]:.1f}s on {p.outage[0]}"


def _rates(p: RunProgress) -> str:
    r = p.rates
    return f"ok {r.get('ok', 0)}/s  fail {r.get('fail', 0)}/s  info {r.get('info', 0)}/s"


def progress_panel(p: RunProgress, title: str = "") -> RenderableType:
    """The live panel: a head line, users in the last second, the open outage, then one row per node."""
    cp = {True: "[green]ok[/]", False: "[bold red]DOWN[/]", None: "?"}[p.control_plane]
    head = Text.from_markup(f"[bold]{p.elapsed:6.1f}s  {p.phase}[/]  {_left(p)}")
    users = Text.from_markup(
        f"last second: [green]ok {p.rates.get('ok', 0)}/s[/]  [red]fail {p.rates.get('fail', 0)}/s[/]  "
        f"[yellow]info {p.rates.get('info', 0)}/s[/]   outage: "
        + ("none" if p.outage is None else f"[bold red]{p.outage[1]:.1f}s[/] on {p.outage[0]}")
        + f"   totals: ok {p.ok} fail {p.fail} info {p.info}" + (f"   control plane {cp}" if p.cluster else ""))
    if not p.cluster:
        return Group(*([Text.from_markup(title)] if title else []), head, users)
    nodes = Table(box=None, pad_edge=False, show_edge=False, header_style="bold")
    for col in ("node", "state", "leader", "tasks"):
        nodes.add_column(col)
    for name in sorted(p.nodes, key=node_sort_key):
        state = p.nodes[name]
        nodes.add_row(name, f"[{STATE_STYLE.get(state, 'white')}]{state}[/]", "leader" if name == p.leader else "",
                      str(p.tasks.get(name, 0)))
    parts: list[RenderableType] = [Text.from_markup(title)] if title else []
    return Group(*parts, head, users, nodes)


def progress_text(p: RunProgress) -> str:
    """The same facts on one line, for logs."""
    nodes = " ".join(f"{n}:{p.nodes[n]}" + ("*" if n == p.leader else "")
                     for n in sorted(p.nodes, key=node_sort_key))
    cp = {True: "ok", False: "DOWN", None: "?"}[p.control_plane]
    left = _left(p)
    line = f"{p.elapsed:6.1f}s {p.phase}{f' ({left})' if left else ''} | last second {_rates(p)} | outage {_outage(p)}"
    return f"{line} | leader {p.leader} (*) control plane {cp} | {nodes}" if p.cluster else line


class ProgressDisplay:
    """Where a run's progress goes: a Rich Live panel when stdout is a terminal, else plain lines."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.title = ""
        self._live: Live | None = None
        self._last_line = -PLAIN_EVERY
        self._last_phase = ""

    def __enter__(self) -> ProgressDisplay:
        if self.console.is_terminal:
            self._live = Live(Text("starting"), console=self.console, refresh_per_second=4, transient=True)
            self._live.__enter__()
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        if self._live is not None:
            self._live.__exit__(kind, exc, tb)
            self._live = None

    def stop(self) -> None:
        self.__exit__(None, None, None)

    def note(self, markup: str) -> None:
        """A line that stays (above the panel on a terminal)."""
        self.console.print(markup)

    def status(self, text: str) -> None:
        """Before a run has progress to show (preparing, waiting for the cluster)."""
        if self._live is not None:
            self._live.update(Group(*([Text.from_markup(self.title)] if self.title else []), Text(text)))
        else:
            self.console.print(text, highlight=False)

    def update(self, p: RunProgress) -> None:
        if self._live is not None:
            self._live.update(progress_panel(p, self.title))
            return
        now = time.monotonic()
        if p.phase != self._last_phase or now - self._last_line >= PLAIN_EVERY:
            self._last_phase, self._last_line = p.phase, now
            self.console.print(progress_text(p), highlight=False, soft_wrap=True)
