"""summary.json: written once by the run, read back whole; recomputed only where it is missing."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from pulltheplug.analysis.results import SUMMARY, read_results, results_of, results_of_folder, write_results
from pulltheplug.cli.app import app
from pulltheplug.records.folder import load_run
from tests.report.synthetic import synthetic_run, write_run


def doctored(folder: Path) -> Path:
    """A run folder whose summary.json says other than its records: a longest outage of 99 s."""
    write_results(folder)
    data = json.loads((folder / SUMMARY).read_text())
    data["summary"]["longest_outage"] = 99.0
    (folder / SUMMARY).write_text(json.dumps(data))
    return folder


def test_summary_json_reads_back_as_the_summary_and_verdict(tmp_path: Path) -> None:
    folder = write_run(tmp_path / "run", synthetic_run())
    _, summary, slos = write_results(folder)
    assert read_results(folder) == (summary, slos)


def test_no_summary_json_reads_as_none(tmp_path: Path) -> None:
    assert read_results(write_run(tmp_path / "run", synthetic_run())) is None


def test_report_run_dir_recomputes_and_rewrites_summary_json(tmp_path: Path) -> None:
    folder = write_run(tmp_path / "run", synthetic_run())
    recomputed = results_of(load_run(folder))[0].longest_outage
    doctored(folder)
    result = CliRunner().invoke(app, ["report", str(folder), "--format", "json"])
    assert json.loads(result.stdout)["summary"]["longest_outage"] == recomputed
    read = read_results(folder)
    assert read is not None and read[0].longest_outage == recomputed


def test_a_summary_json_of_an_older_layout_is_made_again_from_the_records(tmp_path: Path) -> None:
    folder = write_run(tmp_path / "run", synthetic_run())
    write_results(folder)
    data = json.loads((folder / SUMMARY).read_text())
    data["summary"]["detect"] = {"node_down": 1.0, "leader_change": 2.0}  # the names before the references
    (folder / SUMMARY).write_text(json.dumps(data))
    assert read_results(folder) is None
    assert results_of_folder(folder) == results_of(load_run(folder))
