"""`report.html`: one self-contained page (plotly.js inline, no network) from a run's records alone."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jinja2
from plotly.offline import get_plotlyjs

from pulltheplug import __version__
from pulltheplug.analysis import ALL, PHASES, Summary
from pulltheplug.analysis.door import routed_around_words
from pulltheplug.analysis.request_figures import sent_mask
from pulltheplug.analysis.results import results_of
from pulltheplug.analysis.timings import healthy_words
from pulltheplug.analysis.verdict import SloResult, exit_code
from pulltheplug.analysis.windowed import WindowedFigures, curve_sizes, window_label, windowed_figures, worst_of
from pulltheplug.naming import node_sort_key
from pulltheplug.records.columns import RequestColumns
from pulltheplug.records.events import DoorEvent, FaultEvent, SessionEvent
from pulltheplug.records.folder import load_run
from pulltheplug.records.model import Run
from pulltheplug.report.figure import DIV_ID, figure_div, timeline_figure
from pulltheplug.report.timeline import timeline_of
from pulltheplug.report.windowed_figure import DIV_ID as WINDOWED_ID
from pulltheplug.report.windowed_figure import windowed_figure

REPORT = "report.html"
TEMPLATE = "report.html.j2"
MAX_OUTAGE_ROWS = 100


def secs(x: float | None, digits: int = 2) -> str:
    return "\u2013" if x is None else f"{x:.{digits}f}s"


def pct(x: float | None) -> str:
    return "\u2013" if x is None else f"{100 * x:.2f}%"


def ms(x: float | None) -> str:
    return "\u2013" if x is None else f"{x:.1f}"


@cache
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("pulltheplug.report", "templates"), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    env.filters.update(secs=secs, pct=pct, ms=ms)
    return env


@dataclass(frozen=True, slots=True)
class FaultStep:
    """One fault event: what was done when, and the evidence that it took effect."""

    t: float
    action: str
    evidence: str


def fault_steps(run: Run) -> list[FaultStep]:
    """The fault's steps, the front door's view of each node (marked down, up), and the controller's link to a
    host lost or back (a nic-down cuts SSH on purpose)."""
    steps = []
    several = run.meta.fault.get("kind") == "schedule"
    for e in sorted(run.events, key=lambda e: e.t):
        if isinstance(e, FaultEvent):
            action = e.action
            if several:
                action += f" #{e.id + 1} {e.kind} on {e.node}"
            steps.append(FaultStep(e.t, action, json.dumps(e.evidence, sort_keys=True) if e.evidence else ""))
        elif isinstance(e, DoorEvent) and e.backend:
            steps.append(FaultStep(e.t, f"{e.door}: {e.backend} {e.state}", e.check or ""))
        elif isinstance(e, SessionEvent):
            steps.append(FaultStep(e.t, f"SSH session to {e.host} {e.state}", e.reason))
    return steps


def banner(summary: Summary) -> tuple[str, str] | None:
    """(headline, explanation) for a run that did not complete; None for a complete one."""
    if summary.status == "complete":
        return None
    return summary.status.upper(), (f"the run did not complete; this report covers its records up to "
                                    f"{secs(summary.phases.end)}")


def _availability_rows(summary: Summary) -> list[tuple[str, float | None, list[float | None]]]:
    a = summary.availability
    rows = [(e, a.by_entry[e], [a.by_entry_phase.get(e, {}).get(p) for p in PHASES]) for e in a.by_entry]
    rows.append((ALL, a.overall, [a.by_phase.get(p) for p in PHASES]))
    return rows


def windowed_curve(run: Run, summary: Summary) -> WindowedFigures:
    """The worst availability at every size of a 1-2-5 ladder up to the run's length, and the summary's sizes."""
    columns = run.columns if run.columns is not None else RequestColumns.from_records(run.requests)
    sizes = curve_sizes(summary.phases.end, (f.window_s for f in summary.windowed_availability))
    return windowed_figures(columns, sent_mask(columns), sizes, summary.fault.start)


def report_context(run: Run, summary: Summary, slos: list[SloResult]) -> dict[str, Any]:
    """Everything the template shows; the figure as an HTML div, plotly.js as text."""
    meta = run.meta
    tl = timeline_of(run)
    # per entry by start; the windows where every entry failed at once apart (their failures are the same ones),
    # and only with several entries (with one, they are that entry's windows again)
    outages = sorted((w for w in summary.outages if w.entry != ALL), key=lambda w: (w.start, w.entry))
    together = [w for w in summary.outages if w.entry == ALL] if len(summary.availability.by_entry) > 1 else []
    curve = windowed_curve(run, summary)
    return {
        "version": __version__,
        "run": meta,
        "folder": str(run.folder),
        "s": summary,
        "banner": banner(summary),
        "slos": slos,
        "passed": exit_code(slos) == 0,
        "cluster_nodes": sorted((n for n in meta.cluster.get("nodes", []) if isinstance(n, dict)),
                                key=lambda n: node_sort_key(str(n.get("name", "")))),
        "cluster_info": {k: v for k, v in meta.cluster.items() if k != "nodes"},
        "fault_info": {k: v for k, v in meta.fault.items() if v not in (None, "", [])},
        "fault_steps": fault_steps(run),
        "healthy_words": healthy_words(summary.recover),
        "cluster": summary.cluster != "none",  # `pulltheplug load`: no cluster, fault or findings to show
        "door_words": routed_around_words(summary.door.kind, summary.door.node) if summary.door else "",
        "phases": PHASES,
        "phase_edges": [(k, getattr(summary.phases, k)) for k in ("steady", "fault", "revert", "converged", "end")],
        "availability_rows": _availability_rows(summary),
        "outages": outages[:MAX_OUTAGE_ROWS],
        "outages_left": max(len(outages) - MAX_OUTAGE_ROWS, 0),
        "outages_all": sorted(together, key=lambda w: w.start),
        "window_label": window_label,
        "worst_1s": worst_of(summary.windowed_availability, 1.0),
        "windowed_id": WINDOWED_ID,
        "windowed_figure": figure_div(windowed_figure(curve.overall, curve.by_entry), WINDOWED_ID),
        "errors_total": sum(summary.errors.values()),
        "latency_rows": [*(("all requests", phase, p) for phase, p in summary.latency_all.items()),
                         *(("ok requests", phase, p) for phase, p in summary.latency_ok.items()),
                         ("client lag", "overall", summary.client_lag)],
        "markers": tl.markers,
        "bin_ms": round(tl.bins.width * 1000),
        "div_id": DIV_ID,
        "figure": figure_div(timeline_figure(tl)),
        "plotly_js": get_plotlyjs(),
    }


def render_html(run: Run, summary: Summary, slos: list[SloResult]) -> str:
    return _environment().get_template(TEMPLATE).render(report_context(run, summary, slos))


def write_html(run: Run, summary: Summary, slos: list[SloResult], path: Path | None = None) -> Path:
    """Writes the report (default: `report.html` in the run folder) and returns its path."""
    out = path or run.folder / REPORT
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_html(run, summary, slos), encoding="utf-8")
    return out


def render_report(folder: Path) -> Path:
    """The run folder's `report.html`, from its records alone (no cluster needed)."""
    run = load_run(folder, columnar=True)
    summary, slos = results_of(run)
    return write_html(run, summary, slos)
