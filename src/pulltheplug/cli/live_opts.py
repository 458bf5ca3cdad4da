"""The watch options `run` and `campaign` share: --live, --live-port, --live-bind, --bind-all,
--metrics-port, --linger; and starting, feeding and ending the live server they ask for."""

from __future__ import annotations

import functools
import inspect
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_type_hints

import typer
from rich.console import Console

from pulltheplug.cli.app import state
from pulltheplug.errors import SpecError
from pulltheplug.live.sidecar import DEFAULT_LIVE_PORT, LiveServer, check_bind
from pulltheplug.spec import parse_duration

LINGER_DEFAULT = "15s"  # one Prometheus scrape interval: the last values get scraped, the page shows the end


@dataclass(frozen=True)
class WatchOptions:
    live: bool
    live_port: int
    live_bind: str
    bind_all: bool
    metrics_port: int | None
    linger: str

    @property
    def wanted(self) -> bool:
        return self.live or self.metrics_port is not None


# Typer options, shared by the commands that run experiments (each declares them as its defaults)
LIVE: Any = typer.Option(False, "--live", help="Serve a live page of the run (timeline, phase, nodes) while it goes, "
                    "on --live-bind:--live-port.")
LIVE_PORT: Any = typer.Option(DEFAULT_LIVE_PORT, "--live-port", min=1, max=65535, help="Port of the live page.")
LIVE_BIND: Any = typer.Option("127.0.0.1", "--live-bind", help="Address the live page and the metrics listen on; a "
                         "non-loopback one needs --bind-all.")
BIND_ALL: Any = typer.Option(False, "--bind-all", help="Let the live page and the metrics be reached from other "
                        "machines (every address, or the --live-bind one).")
METRICS_PORT: Any = typer.Option(None, "--metrics-port", min=1, max=65535, help="Serve Prometheus metrics of the run "
                            "at http://ADDRESS:PORT/metrics.")
LINGER: Any = typer.Option(LINGER_DEFAULT, "--linger", help="How long the live page and the metrics stay up after the "
                      "end, with --live or --metrics-port (Ctrl-C leaves sooner).")


_FLAGS: list[tuple[str, type | Any, Any]] = [
    ("live", bool, LIVE), ("live_port", int, LIVE_PORT), ("live_bind", str, LIVE_BIND), ("bind_all", bool, BIND_ALL),
    ("metrics_port", int | None, METRICS_PORT), ("linger", str, LINGER),
]


def with_watch_options(command: Callable[..., None]) -> Callable[..., None]:
    """Gives a command the watch flags (declared once, here) and hands it their `WatchOptions` as `watch`.

    Typer reads a command's parameters from its signature: the wrapper's is the command's own (less `watch`)
    followed by the six flags.
    """
    hints = get_type_hints(command)
    own = [p.replace(annotation=hints.get(p.name, p.annotation))
           for p in inspect.signature(command).parameters.values() if p.name != "watch"]
    flags = [inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=kind)
             for name, kind, default in _FLAGS]

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        watch = WatchOptions(**{name: kwargs.pop(name) for name, _, _ in _FLAGS})
        command(*args, watch=watch, **kwargs)

    wrapper.__signature__ = inspect.Signature([*own, *flags])  # type: ignore[attr-defined]
    wrapper.__annotations__ = {**{p.name: p.annotation for p in own}, **{n: k for n, k, _ in _FLAGS}}
    return wrapper


def start(opts: WatchOptions, console: Console) -> LiveServer | None:
    """The live server, bound before anything else is done: a port in use stops the command here."""
    if not opts.wanted:
        return None
    bind = check_bind(opts.live_bind, opts.bind_all)
    linger_seconds(opts)
    server = LiveServer(bind, opts.live_port if opts.live else None, opts.metrics_port, debug=state.debug)
    if "live" in server.urls:
        console.print(f"live: {server.urls['live']}")
    if "metrics" in server.urls:
        console.print(f"metrics: {server.urls['metrics']}")
    return server


def linger_seconds(opts: WatchOptions) -> float:
    try:
        return parse_duration(opts.linger)
    except ValueError as exc:
        raise SpecError(f"--linger {opts.linger!r}: {exc}") from exc


@contextmanager
def watching(opts: WatchOptions, console: Console) -> Iterator[LiveServer | None]:
    server = start(opts, console)
    try:
        yield server
    finally:
        if server is not None:
            server.close()


def finish(server: LiveServer | None, opts: WatchOptions, report: Path | None, status: str,
           console: Console) -> None:
    """Tell the page it ended, then keep it (and the metrics) up for --linger so the end is seen and scraped."""
    if server is None:
        return
    server.done(report, status)
    seconds = linger_seconds(opts)
    if seconds <= 0:
        return
    console.print(f"live page and metrics stay up {seconds:.0f}s more (--linger); Ctrl-C leaves now")
    try:
        time.sleep(seconds)
    except KeyboardInterrupt:
        console.print("left early")
