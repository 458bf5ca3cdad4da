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

from pulltheplug.cli.app import app
from pulltheplug.live.metrics import openmetrics_of
from pulltheplug.record import load_meta
from pulltheplug.records_arrow import json_lines
from pulltheplug.report import write_html, write_junit
from pulltheplug.results import results_dict, write_results
from pulltheplug.verdict import exit_code

err = Console(stderr=True, highlight=False, soft_wrap=True)


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


@app.command("report")
def report(
    run_dir: Path = typer.Argument(..., metavar="RUN_DIR", help="A run folder (runs/<time>-<name>/)."),
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
    when one fails, 2 for a folder that is not a run."""
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
