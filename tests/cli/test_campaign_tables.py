"""The campaign's terminal output: tables that fit an 80-column terminal (no cell cut to "availabili…", no line
too long), and a partial report that says why it could not be written."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from rich.console import Console
from rich.table import Table

from pulltheplug.analysis.compare import compare
from pulltheplug.analysis.finding_counts import finding_counts
from pulltheplug.analysis.results import results_of
from pulltheplug.cli import campaign_cmd
from pulltheplug.cli.campaign_cmd import comparison_table, verdict_table
from pulltheplug.records.campaign_index import CampaignEntry
from pulltheplug.report.campaign_html import CampaignResults, CampaignRun, render_html
from pulltheplug.spec.campaign_plan import demo_spec, plan_runs
from tests.analysis.history import failing, fault, node, run, stream

# strict enough that every SLO fails: the verdict cell then lists every SLO's name
FAILING_SLOS = {"availability": 0.99999, "max_outage": 0.1, "recover_within": 0.1, "p99_latency": 0.0001}


def _demo_results(quick: bool, repetitions: int = 1) -> CampaignResults:
    """Every run of the demo's plan, each losing node3 for 12 s or so and failing every SLO; the last one cut short."""
    spec = demo_spec(quick).model_copy(update={"repetitions": repetitions})
    runs = []
    plan = plan_runs(spec)
    for planned in plan:
        outage = 12.345 + 1.7 * planned.repetition
        history = run(stream(50.0, 30.0, fail=failing("node3", 10.0, 10.0 + outage)),
                      [fault(10.0, "inject"), node(11.0, "node3", "down"), fault(20.0, "revert"),
                       node(23.0, "node3", "ready")])
        history.meta.slo = FAILING_SLOS
        interrupted = planned is plan[-1]
        if interrupted:
            history.meta.status = "interrupted"
        summary, slos = results_of(history)
        entry = CampaignEntry(planned.number, planned.scenario, planned.fault, planned.target, planned.repetition,
                              f"run-{planned.number}", history.meta.status, not interrupted, False)
        runs.append(CampaignRun(entry, summary, slos, entry.folder))
    counted = [(r.entry.scenario, r.summary) for r in runs if r.counted and r.summary is not None]
    counts = finding_counts((scenario, summary.findings) for scenario, summary in counted)
    return CampaignResults(Path("/nonexistent"), spec, runs, compare(counted), counts, {})


def _render(table: Table, width: int = 80) -> str:
    console = Console(width=width, record=True, file=open("/dev/null", "w"))  # noqa: SIM115
    console.print(table)
    return console.export_text()


@pytest.mark.parametrize("quick", [True, False])
def test_the_verdict_table_fits_80_columns_without_cutting_a_word(quick: bool) -> None:
    text = _render(verdict_table(_demo_results(quick)))
    assert "\u2026" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    words = text.replace(",", " ").split()
    for word in ("availability", "max_outage", "recover_within", "interrupted", "via", "nodes", "haproxy", "vip",
                 "nic-down@door" if quick else "power-loss@door"):
        assert word in words


@pytest.mark.parametrize("repetitions", [1, 3])
def test_the_comparison_table_fits_80_columns_without_cutting_a_word(repetitions: int) -> None:
    text = _render(comparison_table(_demo_results(False, repetitions)))
    assert "\u2026" not in text
    assert max(len(line) for line in text.splitlines()) <= 80
    assert {"power-loss", "@door", "via", "nodes", "haproxy", "vip"} <= set(text.split())


@pytest.mark.parametrize(("error", "level"), [(OSError(28, "No space left on device"), logging.DEBUG),
                                              (KeyError("outage"), logging.ERROR)])
def test_no_comparison_report_after_a_stop_says_why(error: Exception, level: int, monkeypatch: pytest.MonkeyPatch,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    """When a campaign stops early its comparison report is best effort; what kept it from being written is
    logged, as a bug when it is one."""
    def campaign_results(folder: Path) -> CampaignResults:
        raise error

    monkeypatch.setattr(campaign_cmd, "campaign_results", campaign_results)
    with caplog.at_level(logging.DEBUG, logger="pulltheplug"):
        campaign_cmd._report_partial(Path("/nonexistent"))
    (record,) = [r for r in caplog.records if r.name == campaign_cmd.__name__]
    assert record.levelno == level and record.exc_info is not None and record.exc_info[1] is error


def test_the_per_fault_table_of_schedules_fits_80_columns() -> None:
    from pulltheplug.analysis.compare import compare_faults
    from pulltheplug.cli.campaign_cmd import fault_table
    from tests.analysis.test_fault_figures import schedule_run, two_workers

    res = _demo_results(quick=True)
    assert fault_table(res) is None  # one fault a run: the comparison says it all
    summaries = [("schedule", results_of(schedule_run(two_workers()))[0])] * 2
    with_schedules = CampaignResults(res.folder, res.spec, res.runs, res.comparison, res.findings, {},
                                     compare_faults(summaries))
    table = fault_table(with_schedules)
    assert table is not None
    text = _render(table)
    assert "nic-down" in text and "@worker" in text and "10.75s" in text and "…" not in text
    assert max(map(len, text.splitlines())) <= 80
    assert 'id="fault-figures"' in render_html(with_schedules)  # and the campaign report has it too
