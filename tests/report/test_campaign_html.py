"""The campaign report: offline, every scenario, and numbers that match each run's own summary."""

from __future__ import annotations

import json
import re
from dataclasses import asdict
from pathlib import Path
from statistics import fmean

import pytest
import yaml

from pulltheplug.analysis import summarize_folder
from pulltheplug.analysis.compare import METRICS
from pulltheplug.errors import RunError
from pulltheplug.records.campaign_index import CAMPAIGN, INDEX, CampaignEntry
from pulltheplug.records.events import event
from pulltheplug.records.folder import RunWriter
from pulltheplug.records.model import Meta
from pulltheplug.report.campaign_html import campaign_results, mean_ci, render_campaign
from pulltheplug.spec import CampaignSpec, ClusterSpec, ExperimentSpec
from tests.analysis.history import ENTRIES, failing, fault, node, stream

OUTAGES = {"nic-down@leader": (2.0, 4.0), "power-loss@random-worker": (5.0, 6.0)}


def _write_run(folder: Path, name: str, kind: str, target: str, outage: float, status: str = "complete") -> None:
    meta = Meta(
        name=name, started_at="2026-01-01T00:00:00+00:00", t0_monotonic=1000.0, status=status,
        cluster={"name": "ptpt", "kind": "lab", "engine_version": "28.0.0",
                 "nodes": [{"name": e, "address": f"10.0.0.{i}", "role": "manager" if i < 3 else "worker"}
                           for i, e in enumerate(ENTRIES, 1)]},
        entries={e: f"http://{e}:8080/" for e in ENTRIES},
        load={"rate": 100.0, "timeout": 1.0},
        fault={"kind": kind, "target": target, "node": "node3"},
        phases={"steady": 0.0, "fault": 10.0, "revert": 20.0, "converged": 25.0, "end": 30.0},
        slo={"max_outage": 4.5},
    )
    writer = RunWriter(folder, meta, f"name: {name}\n")
    for r in stream(100.0, 30.0, fail=failing("node3", 12.0, 12.0 + outage)):
        writer.request(r)
    for e in (fault(10.0, "inject"), node(11.0, "node3", "down"), fault(20.0, "revert"),
              node(22.5, "node3", "ready"), event(30.0, "run", {"action": "end"})):
        writer.event(e)
    writer.close()


@pytest.fixture
def campaign(tmp_path: Path) -> Path:
    folder = tmp_path / "20260101-000000-campaign-small"
    folder.mkdir()
    spec = CampaignSpec(name="small", base=ExperimentSpec(cluster=ClusterSpec(lab="ptpt")),
                        faults=["nic-down", "power-loss"], targets=["leader", "random-worker"], repetitions=2)
    (folder / CAMPAIGN).write_text(yaml.safe_dump(spec.model_dump(), sort_keys=False))
    entries = []
    number = 0
    for rep in (1, 2):
        for scenario, outages in OUTAGES.items():
            kind, target = scenario.split("@")
            number += 1
            run = f"20260101-0000{number:02d}-{number:03d}-{kind}-{target}-r{rep}"
            _write_run(folder / run, run, kind, target, outages[rep - 1])
            entries.append(CampaignEntry(number, scenario, kind, target, rep, run, "complete", True, rep == 2))
    # a run cut short: listed, not counted
    _write_run(folder / "cut", "cut", "nic-down", "leader", 20.0, status="interrupted")
    entries.append(CampaignEntry(5, "nic-down@leader", "nic-down", "leader", 3, "cut", "interrupted", False, False))
    (folder / entries[0].folder / "report.html").write_text("<html></html>")
    (folder / INDEX).write_text("".join(json.dumps(asdict(e)) + "\n" for e in entries))
    return folder


def _section(html: str, key: str) -> str:
    start = html.index(f'<h2 id="{key}">')
    return html[start:html.index("<h2", start + 1)]


def test_report_is_offline_and_names_every_scenario(campaign: Path) -> None:
    path = render_campaign(campaign)
    assert path == campaign / "report.html"
    html = path.read_text()
    assert not re.search(r"""\bsrc\s*=\s*["']?(https?:)?//""", html, re.IGNORECASE)
    assert not re.search(r"<script[^>]*\ssrc=", html, re.IGNORECASE)
    assert not re.search(r"""<link[^>]*href=["']?https?:""", html, re.IGNORECASE)
    # one plot per metric that has numbers (no leader change here, and no front door), the library once
    assert html.count("Plotly.newPlot") == len(METRICS) - 3
    assert "No run has this number" in _section(html, "leader_change")
    assert html.count("<script type=\"text/javascript\">") == 1
    for scenario in OUTAGES:
        assert scenario in html


def test_numbers_match_each_runs_summary(campaign: Path) -> None:
    res = campaign_results(campaign)
    html = render_campaign(campaign).read_text()
    outage = res.comparison.metric("outage")
    for scenario in OUTAGES:
        folders = [r.entry.folder for r in res.runs if r.entry.scenario == scenario and r.counted]
        singles = [summarize_folder(campaign / f).longest_outage for f in folders]
        stats = res.comparison.stats["outage"][scenario]
        assert stats.n == 2 and stats.missing == 0
        assert stats.mean == pytest.approx(fmean(singles))
        assert stats.mean == pytest.approx(fmean(OUTAGES[scenario]), abs=0.05)
        assert outage.format(stats.mean) in _section(html, "outage")
        assert mean_ci(outage, stats) in html  # the overview


def test_runs_are_listed_with_links_and_flags(campaign: Path) -> None:
    res = campaign_results(campaign)
    assert [r.entry.number for r in res.runs] == [1, 2, 3, 4, 5]
    assert [r.counted for r in res.runs] == [True, True, True, True, False]
    # max_outage 4.5 s: the nic-down runs (2 s, 4 s) pass, the power-loss ones (5 s, 6 s) fail
    assert [r.passed for r in res.runs[:4]] == [True, False, True, False]
    html = render_campaign(campaign).read_text()
    first, second = res.runs[0].entry.folder, res.runs[1].entry.folder
    assert f'href="{first}/report.html"' in html
    assert f'href="{second}/"' in html  # no report of its own yet: its folder
    assert "interrupted" in html and "(not counted)" in html
    runs = html[html.index("<h2>Runs</h2>"):]
    assert runs.count("<td class=\"l\">yes</td>") >= 2  # rebuilt_before of the second repetition


def test_missing_run_folder_is_listed_not_fatal(campaign: Path) -> None:
    lost = CampaignEntry(6, "nic-down@leader", "nic-down", "leader", 3, "gone", "complete", True, False)
    with open(campaign / INDEX, "a") as f:
        f.write(json.dumps(asdict(lost)) + "\n")
    res = campaign_results(campaign)
    assert res.runs[-1].summary is None and res.runs[-1].error
    assert res.comparison.stats["outage"]["nic-down@leader"].n == 2
    assert "not a run folder" in render_campaign(campaign).read_text()


def test_not_a_campaign_folder(tmp_path: Path) -> None:
    with pytest.raises(RunError, match="not a campaign folder"):
        render_campaign(tmp_path)


def test_each_run_is_read_from_its_summary_json_where_there_is_one(campaign: Path) -> None:
    from tests.test_results import doctored

    first = campaign_results(campaign).runs[0]  # no run has a summary.json yet: made from the records
    assert first.summary is not None and first.summary.longest_outage == pytest.approx(2.0, abs=0.05)
    doctored(campaign / first.entry.folder)
    res = campaign_results(campaign)
    assert res.runs[0].summary is not None and res.runs[0].summary.longest_outage == 99.0
    assert 99.0 in res.comparison.stats["outage"][first.entry.scenario].values


def test_an_interrupted_run_whose_slos_hold_has_not_passed(campaign: Path) -> None:
    _write_run(campaign / "cut-short", "cut-short", "nic-down", "leader", 2.0, status="interrupted")
    cut = CampaignEntry(6, "nic-down@leader", "nic-down", "leader", 4, "cut-short", "interrupted", False, False)
    with open(campaign / INDEX, "a") as f:
        f.write(json.dumps(asdict(cut)) + "\n")
    last = campaign_results(campaign).runs[-1]
    assert last.summary is not None and last.summary.longest_outage < 4.5  # max_outage itself holds
    assert last.passed is False and not last.counted


def test_report_on_a_campaign_folder_remakes_every_run_then_the_comparison(campaign: Path) -> None:
    """What a user does after upgrading pulltheplug: the records stay, the summaries (and their findings) are
    made again from them."""
    from tests.cli.test_errors import cli
    from tests.test_results import doctored

    first = campaign / "20260101-000001-001-nic-down-leader-r1"
    doctored(first)  # a summary.json an older pulltheplug wrote, with another outage and no findings
    proc = cli("report", str(campaign), cwd=campaign)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == str(campaign / "report.html")
    written = json.loads((first / "summary.json").read_text())["summary"]
    made = summarize_folder(first)
    assert written["longest_outage"] == pytest.approx(made.longest_outage) != 99.0
    assert [f["rule"] for f in written["findings"]] == [f.rule for f in made.findings]
    assert all((campaign / e / "report.html").exists() for e in ("cut", *(d.name for d in campaign.glob("2026*"))))
    assert "campaign small" in proc.stdout  # the comparison table
    assert 99.0 not in campaign_results(campaign).comparison.stats["outage"]["nic-down@leader"].values

    proc = cli("report", str(campaign), "--format", "json", cwd=campaign)
    assert proc.returncode == 2 and "is a campaign folder" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_a_campaign_over_two_engines_names_both_versions(campaign: Path) -> None:
    """The header says every engine the runs ran on, not the first run's alone."""
    first = sorted(p for p in campaign.iterdir() if (p / "meta.json").exists())[0]
    meta = json.loads((first / "meta.json").read_text())
    meta["cluster"]["engine_version"] = "26.1.5+dfsg1"
    (first / "meta.json").write_text(json.dumps(meta))
    assert campaign_results(campaign).engines == ("26.1.5+dfsg1", "28.0.0")
    assert "docker 26.1.5+dfsg1 and 28.0.0" in render_campaign(campaign).read_text()
