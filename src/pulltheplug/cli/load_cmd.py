"""`pulltheplug load`: the prober alone against any HTTP endpoints, with the same records and reports."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from pulltheplug.analysis.verdict import exit_code
from pulltheplug.cli import live_opts
from pulltheplug.cli.app import app
from pulltheplug.cli.handlers import LiveFollow, Terminal
from pulltheplug.cli.progress import ProgressDisplay
from pulltheplug.cli.render import render_summary
from pulltheplug.errors import SpecError
from pulltheplug.load.workers import default_workers
from pulltheplug.report.html import REPORT, write_html
from pulltheplug.run import load_test
from pulltheplug.run.events import EventRegistry, ReportOnResults
from pulltheplug.spec import parse_duration

console = Console()


def _seconds(flag: str, value: str) -> float:
    try:
        return parse_duration(value)
    except ValueError as exc:
        raise SpecError(f"{flag} {value!r}: {exc}") from exc


@app.command("load")
@live_opts.with_watch_options
def load(
    urls: list[str] = typer.Argument(..., metavar="URL...", help="HTTP(S) endpoints, loaded round-robin."),
    rate: float = typer.Option(100.0, "--rate", help="Requests per second in all (open loop: due at k/rate)."),
    duration: str = typer.Option("30s", "--duration", help="How long, e.g. 30s, 5m."),
    timeout: str = typer.Option("2s", "--timeout", help="Each request's timeout, e.g. 500ms."),
    out: Path | None = typer.Option(None, "--out", help="The run folder to write (default: RUNS_DIR/<time>-load)."),
    runs_dir: Path = typer.Option(Path("runs"), "--runs-dir", help="Where run folders go."),
    workers: int | None = typer.Option(
        None, "--workers", help="Prober processes sharing the one schedule (default: the cores here less one)."),
    keep_alive: bool = typer.Option(
        True, "--keep-alive/--no-keep-alive", help="Pooled keep-alive connections, or a new one per request."),
    watch: live_opts.WatchOptions | None = None,
) -> None:
    """Measure what users of any HTTP service feel while you break it by hand: the open-loop prober alone (no
    cluster, no fault), one record per request, then the summary and report.html. Exit 0 when the run is
    complete, 130 when Ctrl-C stopped it, 2 for bad input."""
    seconds, each = _seconds("--duration", duration), _seconds("--timeout", timeout)
    load_test.check_urls(urls)
    if out is not None and out.exists():
        raise SpecError(f"--out {out} exists: give a new folder (a run folder is never overwritten)")
    assert watch is not None  # given by with_watch_options
    with live_opts.watching(watch, console) as server:
        with ProgressDisplay(console) as display:
            events = EventRegistry(LiveFollow(server, lambda: "load"), Terminal(display), ReportOnResults(write_html))
            folder = load_test.execute(
                urls, rate, seconds, each, runs_dir, events=events, folder=out, keep_alive=keep_alive,
                workers=default_workers() if workers is None else workers)
        summary, slos = render_summary(console, folder)
        console.print(f"report: {folder / REPORT}")
        live_opts.finish(server, watch, folder / REPORT, summary.status, console)
    if summary.status == "interrupted":
        raise typer.Exit(130)
    raise typer.Exit(exit_code(slos))
