"""The campaign comparison report: one self-contained HTML file (plotly inlined once, nothing fetched).

Made from the campaign folder's records alone (campaign.yaml, index.jsonl, each run folder's meta.json and
the summary.json the run wrote), so it can be remade anywhere, after the lab is gone. Only complete runs
enter the statistics; the others are listed with their status.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import jinja2
import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from pulltheplug.analysis import Summary
from pulltheplug.analysis.compare import (
    Comparison,
    FaultComparison,
    FaultMetric,
    Metric,
    Stats,
    compare,
    compare_faults,
)
from pulltheplug.analysis.finding_counts import FindingCount, finding_counts
from pulltheplug.analysis.findings import RULES
from pulltheplug.analysis.results import results_of_folder
from pulltheplug.analysis.verdict import SloResult, exit_code
from pulltheplug.errors import PulltheplugError, RunError
from pulltheplug.records.campaign_index import CAMPAIGN, CampaignEntry, read_index
from pulltheplug.records.folder import load_meta
from pulltheplug.spec import CampaignSpec, load_campaign
from pulltheplug.spec.campaign_plan import plan_runs

REPORT = "report.html"
RUN_REPORT = "report.html"  # each run's own report, inside its folder
TEMPLATES = Path(__file__).parent / "templates"


@dataclass(frozen=True)
class CampaignRun:
    """One index entry and what its records say; `summary` None: the run folder could not be read."""

    entry: CampaignEntry
    summary: Summary | None
    slos: list[SloResult]
    link: str  # relative to the campaign folder: the run's report.html, else its folder
    error: str | None = None

    @property
    def counted(self) -> bool:
        """Whether the run enters the statistics: read back, and ran to its end."""
        return self.summary is not None and self.summary.status == "complete"

    @property
    def passed(self) -> bool | None:
        return None if self.summary is None else exit_code(self.slos) == 0


@dataclass(frozen=True)
class CampaignResults:
    folder: Path
    spec: CampaignSpec
    runs: list[CampaignRun]
    comparison: Comparison  # over the counted runs
    findings: dict[str, dict[str, FindingCount]]  # scenario -> rule -> how many of its counted runs found it
    cluster: dict[str, Any]  # the first run's Meta.cluster: the lab as it really was
    faults: FaultComparison | None = None  # every fault of the counted runs by kind@target
    engines: tuple[str, ...] = ()  # every engine version the runs ran on (a campaign may compare engines)

    @property
    def planned(self) -> int:
        return len(plan_runs(self.spec))


def _run_link(folder: Path, entry: CampaignEntry) -> str:
    report = folder / entry.folder / RUN_REPORT
    return quote(f"{entry.folder}/{RUN_REPORT}" if report.exists() else f"{entry.folder}/")


def _read_run(folder: Path, entry: CampaignEntry) -> tuple[CampaignRun, dict[str, Any]]:
    """The summary the run wrote (made from its records only where there is none) and its Meta.cluster."""
    link = _run_link(folder, entry)
    try:
        meta = load_meta(folder / entry.folder)
        summary, slos = results_of_folder(folder / entry.folder)
    except PulltheplugError as exc:
        return CampaignRun(entry, None, [], link, str(exc)), {}
    return CampaignRun(entry, summary, slos, link), meta.cluster


def campaign_results(folder: Path) -> CampaignResults:
    """Read the campaign folder back and compare its scenarios."""
    if not (folder / CAMPAIGN).exists():
        raise RunError(f"{folder} is not a campaign folder (no {CAMPAIGN}): "
                       "give the folder `pulltheplug campaign` made")
    spec = load_campaign(folder / CAMPAIGN)
    runs: list[CampaignRun] = []
    cluster: dict[str, Any] = {}
    engines: set[str] = set()
    for entry in sorted(read_index(folder), key=lambda e: e.number):
        run, meta_cluster = _read_run(folder, entry)
        runs.append(run)
        cluster = cluster or meta_cluster
        engines.update(v for v in str(meta_cluster.get("engine_version") or "").split(" and ") if v)
    counted = [(r.entry.scenario, r.summary) for r in runs if r.counted and r.summary is not None]
    counts = finding_counts((scenario, summary.findings) for scenario, summary in counted)
    return CampaignResults(folder, spec, runs, compare(counted), counts, cluster, compare_faults(counted),
                           tuple(sorted(engines)))


def _plot(metric: Metric, scenarios: tuple[str, ...], stats: dict[str, Stats]) -> str:
    """A box per scenario with every run as a point: with a handful of runs, the points are the story."""
    fig = go.Figure()
    for sc in scenarios:
        st = stats[sc]
        fig.add_trace(go.Box(
            x=list(st.values), y=[sc] * st.n, name=sc, orientation="h", boxpoints="all", jitter=0.4,
            pointpos=0, text=list(st.runs), hovertemplate="%{text}: %{x}<extra></extra>", showlegend=False,
        ))
    fig.update_layout(
        template="plotly_white", height=120 + 45 * len(scenarios), margin={"l": 10, "r": 10, "t": 10, "b": 40},
        xaxis_title=f"{metric.label}" + {"s": " (s)", "ratio": "", "requests": " (requests)"}.get(metric.unit, ""),
    )
    fig.update_yaxes(autorange="reversed", automargin=True)
    if metric.unit == "ratio":
        fig.update_xaxes(tickformat=".2%")
    html: str = fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"plot-{metric.key}",
                            config={"displaylogo": False, "responsive": True})
    return html


def _sections(c: Comparison) -> list[dict[str, Any]]:
    out = []
    for m in c.metrics:
        stats = c.stats[m.key]
        rows = []
        for sc in c.scenarios:
            st = stats[sc]
            ci = "-" if st.ci95 is None else f"{m.format(st.ci95[0])} … {m.format(st.ci95[1])}"
            rows.append({"scenario": sc, "n": st.n, "mean": m.format(st.mean), "ci": ci, "min": m.format(st.min),
                         "max": m.format(st.max), "missing": st.missing})
        has_values = any(stats[sc].n for sc in c.scenarios)
        out.append({"key": m.key, "label": m.label, "rows": rows,
                    "plot": _plot(m, c.scenarios, stats) if has_values else None})
    return out


def mean_ci(metric: Metric | FaultMetric, st: Stats) -> str:
    """'12.30s ± 1.20s', or just the mean where there is no interval; '-' where nothing was measured."""
    if st.mean is None:
        return "-"
    if st.half_width is None:
        return metric.format(st.mean)
    if metric.unit == "ratio":
        return f"{metric.format(st.mean)} ± {100 * st.half_width:.2f}%"
    return f"{metric.format(st.mean)} ± {metric.format(st.half_width)}"


def _overview(c: Comparison) -> list[dict[str, Any]]:
    return [{"scenario": sc, "cells": [mean_ci(m, c.stats[m.key][sc]) for m in c.metrics]} for sc in c.scenarios]


def fault_rows(faults: FaultComparison | None) -> list[dict[str, Any]]:
    """Per kind@target: how many faults, and each metric's mean ± CI with how many faults lacked it; none unless
    some run was a schedule (a single fault per run only repeats its scenario's row)."""
    if faults is None or not faults.schedules:
        return []
    rows = []
    for label in faults.labels:
        stats = [faults.stats[m.key][label] for m in faults.metrics]
        rows.append({"label": label, "faults": stats[0].n + stats[0].missing,
                     "cells": [mean_ci(m, st) + (f" ({st.missing} none)" if st.missing else "")
                               for m, st in zip(faults.metrics, stats, strict=True)]})
    return rows


def _run_rows(res: CampaignResults) -> list[dict[str, Any]]:
    rows = []
    for r in res.runs:
        e, s = r.entry, r.summary
        rows.append({
            "number": e.number, "scenario": e.scenario, "repetition": e.repetition, "link": r.link,
            "folder": e.folder, "status": e.status, "converged": e.converged, "rebuilt": e.rebuilt_before,
            "counted": r.counted, "error": r.error, "passed": r.passed,
            "node": (s.fault.node if s else None) or "-",
            "cells": [m.format(m.value(s)) if s else "-" for m in res.comparison.metrics],
        })
    return rows


def render_html(res: CampaignResults) -> str:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATES), autoescape=True,
                             undefined=jinja2.StrictUndefined, trim_blocks=True, lstrip_blocks=True)
    spec = res.spec
    nodes = res.cluster.get("nodes") or []
    return env.get_template("campaign.html.j2").render(
        name=spec.name,
        folder=res.folder.name,
        spec=spec,
        lab_name=spec.base.cluster.lab,
        cluster_nodes=len(nodes),
        cluster_managers=sum(1 for n in nodes if isinstance(n, dict) and n.get("role") == "manager"),
        engine=" and ".join(res.engines) or res.cluster.get("engine_version") or "-",
        planned=res.planned,
        recorded=len(res.runs),
        counted=sum(r.counted for r in res.runs),
        metrics=res.comparison.metrics,
        overview=_overview(res.comparison),
        fault_metrics=res.faults.metrics if res.faults else (),
        fault_rows=fault_rows(res.faults),
        rules=RULES,
        findings=res.findings,
        sections=_sections(res.comparison),
        runs=_run_rows(res),
        plotlyjs=get_plotlyjs(),
    )


def write_campaign_report(res: CampaignResults) -> Path:
    path = res.folder / REPORT
    tmp = path.with_suffix(".html.tmp")
    tmp.write_text(render_html(res))
    tmp.replace(path)
    return path


def render_campaign(folder: Path) -> Path:
    """Write `<campaign>/report.html` from the records alone; returns its path."""
    return write_campaign_report(campaign_results(folder))
