"""`pulltheplug campaign` (a fault x target matrix on a lab) and `pulltheplug demo` (the seed's, end to end)."""

from __future__ import annotations

import logging
from pathlib import Path

import typer
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from pulltheplug.analysis.compare import Metric
from pulltheplug.analysis.findings import RULES
from pulltheplug.backends import open_cluster
from pulltheplug.cli import live_opts
from pulltheplug.cli.app import app
from pulltheplug.cli.handlers import LiveFollow, Terminal
from pulltheplug.cli.progress import ProgressDisplay
from pulltheplug.errors import PulltheplugError
from pulltheplug.lab import lab as labmod
from pulltheplug.live.sidecar import LiveServer
from pulltheplug.records.campaign_index import read_index
from pulltheplug.report.campaign_html import (
    CampaignResults,
    campaign_results,
    fault_rows,
    mean_ci,
    write_campaign_report,
)
from pulltheplug.report.html import write_html
from pulltheplug.run.campaign import run_campaign
from pulltheplug.run.events import EventRegistry, ReportOnResults
from pulltheplug.spec import CampaignSpec, load_campaign
from pulltheplug.spec.campaign_plan import DEMO_LAB, demo_spec

console = Console()
log = logging.getLogger(__name__)

TABLE_METRICS = ("outage", "detect", "recover", "availability", "worst_1s")  # failed requests: the HTML
TERMINAL_WIDTH = 80  # the tables below fit it: cells wrap between words, never cut to "availabili…"
SHORTER = {"availability": "avail.", "worst_1s": "worst\n1s", "error_seconds": "error\nsecs"}  # a header as wide
# as "availability" leaves the verdict too little room


def _narrow_table(title: str) -> Table:
    """No vertical rules and two spaces between columns: a boxed table of 7 columns spends 22 of 80 on borders."""
    return Table(title=title, box=box.SIMPLE_HEAD, show_edge=False, pad_edge=False, collapse_padding=True)


def _header(m: Metric) -> str:
    """Short, and a time's reference ("after fault") on a line of its own, so the columns stay narrow."""
    return SHORTER.get(m.key, (m.short or m.label).replace(" after ", "\nafter ", 1))


def _two_lines(cell: str) -> str:
    """'12.30s ± 1.20s' as the mean over '± 1.20s' (as the scenario's fault over its '@target'): a cell
    half as wide, broken where it reads well."""
    return cell.replace(" ± ", "\n± ")


def comparison_table(res: CampaignResults) -> Table:
    """Scenario x key metrics, mean ± 95% CI half width; then how many runs held every SLO."""
    c = res.comparison
    metrics: list[Metric] = [c.metric(k) for k in TABLE_METRICS]
    table = _narrow_table(f"campaign {res.spec.name}: mean ± 95% CI over complete runs")
    table.add_column("scenario", no_wrap=True)
    table.add_column("n", justify="right", no_wrap=True)
    for m in metrics:
        table.add_column(_header(m), justify="right", no_wrap=True)
    table.add_column("SLOs held", justify="right")
    for sc in c.scenarios:
        runs = [r for r in res.runs if r.counted and r.entry.scenario == sc]
        held = sum(bool(r.passed) for r in runs)
        table.add_row(sc.replace("@", "\n@", 1).replace(" via ", "\nvia "), str(len(runs)),
                      *[_two_lines(mean_ci(m, c.stats[m.key][sc])) for m in metrics],
                      f"[green]{held}/{len(runs)}[/]" if held == len(runs) else f"[red]{held}/{len(runs)}[/]")
    return table


def findings_table(res: CampaignResults) -> Table | None:
    """Scenario x the rules some run found: found/runs and the median length; None when no run found any."""
    rules = [rule for rule in RULES if any(c[rule].found for c in res.findings.values())]
    if not rules:
        return None
    table = _narrow_table(f"{res.spec.name}: findings, runs that found each")
    table.add_column("scenario", no_wrap=True)
    for rule in rules:
        table.add_column(rule.replace("-", "-\n", 1), justify="right")
    for scenario, counts in res.findings.items():
        table.add_row(scenario.replace("@", "\n@", 1).replace(" via ", "\nvia "),
                      *[counts[rule].words().replace(", ", "\n", 1) for rule in rules])
    return table


def fault_table(res: CampaignResults) -> Table | None:
    """Every fault of a schedule on its own, by kind@target (campaign_html.fault_rows); None without schedules."""
    rows = fault_rows(res.faults)
    if not rows or res.faults is None:
        return None
    table = _narrow_table(f"{res.spec.name}: per fault, mean ± 95% CI (none: faults without the figure)")
    table.add_column("fault", no_wrap=True)
    table.add_column("n", justify="right", no_wrap=True)
    for m in res.faults.metrics:
        table.add_column(m.label.replace(", after ", "\nafter ", 1), justify="right")
    for row in rows:
        table.add_row(row["label"].replace("@", "\n@", 1), str(row["faults"]), *map(_two_lines, row["cells"]))
    return table


def print_tables(res: CampaignResults, to: Console) -> None:
    """The comparison, then per fault for schedules, then the findings when some run found one: what every
    campaign command ends with."""
    to.print(comparison_table(res))
    if (per_fault := fault_table(res)) is not None:
        to.print(per_fault)
    if (found := findings_table(res)) is not None:
        to.print(found)


def verdict_table(res: CampaignResults) -> Table:
    """One row per run: what it hit, what users felt, and the SLO verdict."""
    c = res.comparison
    metrics = [c.metric(k) for k in ("outage", "availability", "worst_1s", "error_seconds")]
    table = _narrow_table(f"{res.spec.name}: verdict per run")
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("scenario", no_wrap=True)
    table.add_column("node", no_wrap=True)
    for m in metrics:
        table.add_column(_header(m), justify="right", no_wrap=True)
    table.add_column("verdict")  # wraps between the names of the SLOs that failed
    for r in res.runs:
        s = r.summary
        if s is None or not r.counted:
            verdict = f"[yellow]{r.entry.status}[/]"
        elif r.passed:
            verdict = "[green]pass[/]"
        else:
            verdict = "[red]FAIL[/] " + ", ".join(x.name for x in r.slos if not x.passed)  # details: the reports
        scenario = r.entry.scenario.replace(" via ", "\nvia ")
        table.add_row(str(r.entry.number), scenario, (s.fault.node if s else None) or "-",
                      *[m.format(m.value(s)) if s else "-" for m in metrics], verdict)
    return table


def _new_campaign_folder(runs_dir: Path, before: set[Path]) -> Path | None:
    made = sorted(p for p in runs_dir.glob("*-campaign-*") if p.is_dir() and p not in before)
    return made[-1] if made else None


def execute_campaign(spec: CampaignSpec, runs_dir: Path,
                     server: LiveServer | None = None) -> tuple[Path, CampaignResults]:
    """Run the matrix with live progress; then the reports. Whatever stops it, what ran is reported."""
    cluster = open_cluster(spec.base.cluster, spec.faults, spec.targets)
    before = set(runs_dir.glob("*-campaign-*")) if runs_dir.exists() else set()
    folder: Path | None = None
    with ProgressDisplay(console) as display:
        display.status("waiting for the cluster to be whole")

        # the terminal first: it names the run the live page then follows
        events = EventRegistry(Terminal(display), LiveFollow(server, lambda: Text.from_markup(display.title).plain),
                               ReportOnResults(write_html))
        try:
            folder = run_campaign(spec, cluster, runs_dir, events)
        except BaseException as exc:  # re-raised below, once what ran is reported
            log.debug("the campaign stopped: %s: %s", type(exc).__name__, exc)
            folder = _new_campaign_folder(runs_dir, before)
            if folder is None or not read_index(folder):
                raise
            display.stop()
            _report_partial(folder)
            raise
    with console.status("comparison report"):
        res = campaign_results(folder)  # each run wrote its own summary and report as it ended
        write_campaign_report(res)
    return folder, res


def _report_partial(folder: Path) -> None:
    """After an error or Ctrl-C between runs: report the runs made; the original error is then re-raised."""
    console.print("[yellow]the campaign stopped early: reporting the runs it made[/]")
    try:
        res = campaign_results(folder)
        write_campaign_report(res)
    except Exception as exc:  # the error that stopped the campaign matters more: it is raised after this
        if isinstance(exc, PulltheplugError | OSError):
            log.debug("no comparison report", exc_info=True)
        else:
            log.error("no comparison report, on a bug in pulltheplug", exc_info=True)
        console.print(f"[yellow]note: no comparison report: {exc}[/]")
        return
    print_tables(res, console)
    console.print(f"comparison report: {folder / 'report.html'}")


def _interrupted(folder: Path) -> bool:
    index = read_index(folder)
    return bool(index) and index[-1].status == "interrupted"


@app.command("campaign")
@live_opts.with_watch_options
def campaign(
    spec_file: Path = typer.Argument(
        ..., metavar="CAMPAIGN.yaml", help="Campaign YAML (see scenarios/campaign-*.yaml)."),
    runs_dir: Path = typer.Option(Path("runs"), "--runs-dir", help="Where the campaign folder goes."),
    repetitions: int | None = typer.Option(None, "--repetitions", min=1, max=100,
                                           help="Override the spec's repetitions."),
    lab: str | None = typer.Option(None, "--lab", help="Lab name (default: the spec's base.cluster.lab)."),
    watch: live_opts.WatchOptions | None = None,
) -> None:
    """Run every fault on every target, N times, back to back on one lab; then each run's report and one
    comparison report (mean, 95% CI, min, max per scenario). Exit 0 once the reports are written. With --live,
    watch each run in a browser as it goes; with --metrics-port, in Prometheus/Grafana."""
    spec = load_campaign(spec_file)
    if repetitions is not None:
        spec = spec.model_copy(update={"repetitions": repetitions})
    if lab is not None:
        spec = spec.model_copy(update={"base": spec.base.model_copy(
            update={"cluster": spec.base.cluster.model_copy(update={"lab": lab})})})
    assert watch is not None  # given by with_watch_options
    with live_opts.watching(watch, console) as server:
        folder, res = execute_campaign(spec, runs_dir, server)
        print_tables(res, console)
        console.print(f"comparison report: {folder / 'report.html'}")
        interrupted = _interrupted(folder)
        live_opts.finish(server, watch, folder / "report.html", "interrupted" if interrupted else "complete", console)
    if interrupted:
        console.print("[yellow]interrupted: the campaign stopped; what ran is kept and reported[/]")
        raise typer.Exit(130)


@app.command("demo")
def demo(
    keep_lab: bool = typer.Option(False, "--keep-lab", help="Leave the demo lab up afterwards."),
    runs_dir: Path = typer.Option(Path("runs"), "--runs-dir", help="Where the campaign folder goes."),
    quick: bool = typer.Option(False, "--quick", help="3 runs (the NIC cut through each door), shorter phases."),
) -> None:
    """The seed's question answered: a 5-node lab (3 managers), nic-down, reboot and power-loss, each felt
    straight at the nodes, through HAProxy and through a keepalived VIP (9 runs), the comparison report,
    the lab down again. Needs root."""
    spec = demo_spec(quick)
    with console.status("lab up") as spinner:
        labmod.up(DEMO_LAB, spec.lab.nodes, spec.lab.managers, progress=lambda m: spinner.update(f"lab up: {m}"))
    try:
        folder, res = execute_campaign(spec, runs_dir)
    finally:
        if keep_lab:
            console.print(f"lab {DEMO_LAB} is kept: `pulltheplug lab down --name {DEMO_LAB}` removes it")
        else:
            with console.status("lab down") as spinner:
                labmod.down(DEMO_LAB, progress=lambda m: spinner.update(f"lab down: {m}"))
    console.print(verdict_table(res))
    console.print(f"comparison report: {folder / 'report.html'}")
    if _interrupted(folder):
        raise typer.Exit(130)
