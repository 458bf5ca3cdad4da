"""`pulltheplug report`: html by default, json on demand, JUnit beside; the verdict's exit code."""

from __future__ import annotations

import json
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pulltheplug.cli.app import app
from tests.report.synthetic import PASSING_SLOS, synthetic_run, write_run

runner = CliRunner()


def test_json_prints_the_results_and_exits_with_the_verdict(tmp_path: Path) -> None:
    folder = write_run(tmp_path / "run", synthetic_run())
    result = runner.invoke(app, ["report", str(folder), "--format", "json"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["passed"] is False
    assert [s["name"] for s in data["slos"]] == ["availability", "max_outage"]
    assert data["summary"]["outcomes"]["fail"] == 333
    assert not (folder / "report.html").exists()


def test_html_is_written_to_the_run_folder_with_junit(tmp_path: Path) -> None:
    folder = write_run(tmp_path / "run", synthetic_run(slo=PASSING_SLOS))
    junit = tmp_path / "junit.xml"
    result = runner.invoke(app, ["report", str(folder), "--junit", str(junit)])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == str(folder / "report.html")
    assert (folder / "report.html").stat().st_size > 0
    assert ET.parse(junit).getroot().get("failures") == "0"


def test_output_and_open_without_a_browser(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("pulltheplug.cli.report_cmd.shutil.which", lambda name: None)
    monkeypatch.setattr("pulltheplug.cli.report_cmd.webbrowser.open", lambda url: False)
    folder = write_run(tmp_path / "run", synthetic_run(slo=PASSING_SLOS))
    out = tmp_path / "elsewhere" / "r.html"
    result = runner.invoke(app, ["report", str(folder), "--output", str(out), "--open"])
    assert result.exit_code == 0, result.output
    assert out.exists() and not (folder / "report.html").exists()
    assert out.resolve().as_uri() in result.stderr


def test_a_folder_that_is_not_a_run_exits_2(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "pulltheplug", "report", str(tmp_path)],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert "not a run folder" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_an_interrupted_run_does_not_pass_even_when_its_slos_hold(tmp_path: Path) -> None:
    folder = write_run(tmp_path / "run", synthetic_run(slo=PASSING_SLOS, interrupted_at=35.0))
    result = runner.invoke(app, ["report", str(folder), "--format", "json"])
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    assert data["passed"] is False
    assert [(s["name"], s["passed"]) for s in data["slos"]] == [("run_completed", False), ("availability", True)]
