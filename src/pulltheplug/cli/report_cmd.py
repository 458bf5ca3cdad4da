"""`pulltheplug report`: remake a run's report from its folder alone (no cluster needed)."""

from __future__ import annotations

import contextlib
import json
import shutil
import subprocess
import sys
import webbrowser
from enum import StrEnum
from pathlib import Path

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from pulltheplug.analysis.results import results_dict, write_results
from pulltheplug.analysis.verdict import exit_code
from pulltheplug.cli.app import app
from pulltheplug.cli.campaign_cmd import print_tables
from pulltheplug.errors import PulltheplugError, RunError
from pulltheplug.live.metrics import openmetrics_of
from pulltheplug.records.arrow import json_lines
from pulltheplug.records.campaign_index import CAMPAIGN, read_index
from pulltheplug.records.folder import load_meta
from pulltheplug.report import write_html, write_junit
from pulltheplug.report.campaign_html import campaign_results, write_campaign_report

err = Console(stderr=True, highlight=False, soft_wrap=True)
out = Console(highlight=False)


class ReportFormat(StrEnum):
    html = "html"
    json = "json"
    openmetrics = "openmetrics"
    jsonl = "jsonl"


def open_in_browser(path: Path) -> bool:
    """xdg-open when there is one, else Python's webbrowser; False when neither could open it."""
    xdg = shutil.which("xdg-open")
    if xdg:
        subprocess.Popen([xdg, str(path)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True)
        return True
    try:
        return webbrowser.open(path.resolve().as_uri())
    except webbrowser.Error:
        return False


def remake_campaign(folder: Path) -> Path:
    """Every run's summary.json and report.html made again from its records (a newer pulltheplug may say
    more, its findings above all), then the comparison report; a run folder that cannot be read is said and
    left as it is. Returns the comparison report's path."""
    entries = [e for e in read_index(folder) if e.folder]
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=err,
                  transient=True) as progress:
        task = progress.add_task("runs", total=len(entries))
        for entry in entries:
            progress.update(task, description=entry.folder)
            try:
                run, summary, slos = write_results(folder / entry.folder)
                write_html(run, summary, slos)
            except PulltheplugError as exc:
                err.print(f"[yellow]run {entry.number} left as it was: {exc}[/]")
            progress.advance(task)
    res = campaign_results(folder)
    path = write_campaign_report(res)
    print_tables(res, out)
    return path


@app.command("report")
def report(
    run_dir: Path = typer.Argument(..., metavar="RUN_DIR", help="A run folder (runs/<time>-<name>/), or a "
                                   "campaign folder: every run's report and the comparison made again."),
    fmt: ReportFormat = typer.Option(ReportFormat.html, "--format", help="html: write report.html; json: print "
                                     "the summary and verdict; openmetrics: the run's series with timestamps, one "
                                     "point a second, for `promtool tsdb create-blocks-from openmetrics`; jsonl: "
                                     "every request as a JSON line, for grep and jq."),
    output: Path | None = typer.Option(None, "--output", "-o", help="Where to write (html: default "
                                       "RUN_DIR/report.html; others: default stdout)."),
    junit: Path | None = typer.Option(None, "--junit", help="Also write the verdict as JUnit XML to this file."),
    open_: bool = typer.Option(False, "--open", help="Open the HTML report in a browser."),
) -> None:
    """Make a run's report from its records, and rewrite its summary.json. Exit 0 when every SLO holds, 1
    when one fails, 2 for a folder that is not a run. Given a campaign folder, remake every run's report and
    the comparison report (html only; exit 0 once written)."""
    if (run_dir / CAMPAIGN).exists():
        if fmt is not ReportFormat.html or output is not None or junit is not None:
            raise RunError(f"{run_dir} is a campaign folder: it takes no --format, --output or --junit (give "
                           "one of its run folders for those)")
        path = remake_campaign(run_dir)
        typer.echo(str(path))
        if open_ and not open_in_browser(path):
            err.print(f"no browser to open it with: open {path.resolve().as_uri()}")
        return
    if fmt is ReportFormat.jsonl:  # the records as they are: no summary made, nothing rewritten
        load_meta(run_dir)  # a folder that is not a run is the user's to fix
        with open(output, "w") if output is not None else contextlib.nullcontext(sys.stdout) as out:
            for line in json_lines(run_dir):
                out.write(line + "\n")
        if output is not None:
            typer.echo(str(output))
        return
    run, summary, slos = write_results(run_dir)  # the remake: from the records, summary.json rewritten
    if junit is not None:
        write_junit(junit, [(summary, slos)])
        err.print(f"junit: {junit}")
    if fmt is not ReportFormat.html:
        text = (json.dumps(results_dict(summary, slos), indent=2, default=str) if fmt is ReportFormat.json
                else openmetrics_of(run).rstrip("\n"))
        if output is None:
            typer.echo(text)
        else:
            output.write_text(text + "\n")
            typer.echo(str(output))
    else:
        path = write_html(run, summary, slos, output)
        typer.echo(str(path))
        if open_ and not open_in_browser(path):
            err.print(f"no browser to open it with: open {path.resolve().as_uri()}")
    failed = [r.name for r in slos if not r.passed]
    if summary.status != "complete":
        err.print(f"[yellow]run {summary.status}[/]")
    if failed:
        err.print(f"[red]verdict: FAIL[/] ({', '.join(failed)})")
    raise typer.Exit(exit_code(slos))
