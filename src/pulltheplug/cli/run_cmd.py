"""`pulltheplug run`: one experiment, from a YAML spec and/or flags."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
import yaml
from rich.console import Console

from pulltheplug.analysis.results import SUMMARY, results_of_folder
from pulltheplug.analysis.verdict import exit_code
from pulltheplug.backends import open_cluster
from pulltheplug.cli import live_opts
from pulltheplug.cli.app import app
from pulltheplug.cli.handlers import LiveFollow, Terminal
from pulltheplug.cli.progress import ProgressDisplay
from pulltheplug.cli.render import render_summary
from pulltheplug.errors import SpecError
from pulltheplug.live.sidecar import LiveServer
from pulltheplug.report import write_junit
from pulltheplug.report.html import REPORT, write_html
from pulltheplug.run import experiment, preparation
from pulltheplug.run.events import EventRegistry, Folders, ReportOnResults
from pulltheplug.spec import ExperimentSpec, load_spec, parse_spec

console = Console()


def build_spec(spec_file: Path | None, overrides: dict[str, dict[str, Any]],
               name: str | None = None) -> tuple[ExperimentSpec, str]:
    """The spec file (or defaults), with flags on top, validated again; returns it and its effective YAML."""
    base = load_spec(spec_file) if spec_file else ExperimentSpec()
    data = base.model_dump(mode="json")  # plain YAML types (paths as strings)
    if name is not None:
        data["name"] = name
    for section, values in overrides.items():
        for key, value in values.items():
            if value is not None:
                data[section][key] = value
    text = yaml.safe_dump(data, sort_keys=False)
    return parse_spec(text, str(spec_file or "flags")), text


@app.command("run")
@live_opts.with_watch_options
def run(
    spec_file: Path | None = typer.Argument(
        None, metavar="EXPERIMENT.yaml", help="Experiment YAML (see scenarios/). Flags override it."),
    fault: str | None = typer.Option(None, "--fault", help="nic-down, reboot, power-loss, freeze, partition, loss, "
                                     "flap, engine-crash, task-kill, quorum-loss or none (their shapes: in the YAML)."),
    target: str | None = typer.Option(None, "--target", help="Node name, random, random-worker, "
                                      "random-manager, leader or follower."),
    duration: str | None = typer.Option(None, "--duration", help="How long the fault lasts, e.g. 20s."),
    seed: int | None = typer.Option(None, "--seed", help="Seed of a random target pick."),
    rate: float | None = typer.Option(None, "--rate", help="Requests per second (open loop)."),
    steady: str | None = typer.Option(None, "--steady", help="Steady state before the fault, e.g. 10s."),
    settle: str | None = typer.Option(None, "--settle", help="Healthy this long after convergence, e.g. 10s."),
    wait_whole: str | None = typer.Option(None, "--wait-whole", help="First wait up to this long (default 60s) "
                                          "for every node Ready and every manager reachable; exit 2 if they are "
                                          "not. 0 starts at once, whatever the cluster's state."),
    lab: str | None = typer.Option(None, "--lab", help="Lab name (default: the spec's, or 'lab')."),
    name: str | None = typer.Option(None, "--name", help="Run name (the run folder's suffix)."),
    runs_dir: Path = typer.Option(Path("runs"), "--runs-dir", help="Where run folders go."),
    junit: Path | None = typer.Option(None, "--junit", help="Also write the verdict as JUnit XML (one case per SLO)."),
    watch: live_opts.WatchOptions | None = None,
) -> None:
    """Pull the plug: steady load, a fault on one node, its revert, observation until converged; then the
    verdict. Exit 0 when every SLO holds, 1 when one fails, 2 for bad input. With --live, watch it happen in a
    browser; with --metrics-port, in Prometheus/Grafana."""
    if spec_file is not None and not spec_file.exists():
        raise SpecError(f"spec {spec_file} does not exist: see scenarios/ for examples")
    spec, text = build_spec(spec_file, {
        "fault": {"kind": fault, "target": target, "duration": duration, "seed": seed},
        "load": {"rate": rate}, "phases": {"steady": steady, "settle": settle, "wait_whole": wait_whole},
        "cluster": {"lab": lab},
    }, name)
    assert watch is not None  # given by with_watch_options
    with live_opts.watching(watch, console) as server:
        code = _run(spec, text, runs_dir, junit, server, watch)
    raise typer.Exit(code)


def _run(spec: ExperimentSpec, text: str, runs_dir: Path, junit: Path | None, server: LiveServer | None,
         watch: live_opts.WatchOptions) -> int:
    cluster = open_cluster(spec.cluster, *spec.fault_plan())
    whole = f"the cluster whole (up to {spec.phases.wait_whole:g}s), " if spec.phases.wait_whole else ""
    with console.status(f"preparing: {whole}workload, entries, target"):
        prepared = preparation.prepare(spec, cluster)
    folders = Folders()
    made = folders.made
    try:
        with ProgressDisplay(console) as display:
            events = EventRegistry(folders, LiveFollow(server, lambda: f"run {spec.name}"), Terminal(display),
                                   ReportOnResults(write_html))
            folder = experiment.execute(spec, text, cluster, runs_dir, events, prepared)
    except Exception:
        # a failed run still has its verdict for CI (run_completed fails), when it got as far as a summary
        if junit is not None and made and (made[0] / SUMMARY).exists():
            console.print(f"junit: {write_junit(junit, [results_of_folder(made[0])])}")
        if made:
            live_opts.finish(server, watch, made[0] / REPORT, "failed", console)
        raise
    finally:
        preparation.close_door(prepared)  # the run closes it; this covers a failure before the run began
    summary, slos = render_summary(console, folder)
    console.print(f"report: {folder / REPORT}")  # written by the run itself
    if junit is not None:
        console.print(f"junit: {write_junit(junit, [(summary, slos)])}")
    live_opts.finish(server, watch, folder / REPORT, summary.status, console)
    if summary.status == "interrupted":
        console.print(f"[yellow]interrupted: the fault was reverted and the run saved in {folder}[/]")
        return 130
    return exit_code(slos)
