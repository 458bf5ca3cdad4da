"""`pulltheplug run` after the experiment: the verdict, JUnit and exit code (the lab and the run are stubbed)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pulltheplug.analysis.results import write_results
from pulltheplug.cli.app import app
from pulltheplug.errors import FaultError
from pulltheplug.lab import lab as labmod
from pulltheplug.run import experiment, preparation
from pulltheplug.run.events import RunEvents
from tests.report.synthetic import PASSING_SLOS, synthetic_run, write_run


def test_an_interrupted_run_writes_a_failing_junit_and_exits_130(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_run(tmp_path / "run", synthetic_run(slo=PASSING_SLOS, interrupted_at=35.0))
    monkeypatch.setattr(labmod, "require_up", lambda name: None)
    monkeypatch.setattr(preparation, "prepare", lambda spec, cluster: None)

    def execute(*args: Any, **kwargs: Any) -> Path:
        return folder

    monkeypatch.setattr(experiment, "execute", execute)
    junit = tmp_path / "junit.xml"
    result = CliRunner().invoke(app, ["run", "--junit", str(junit), "--runs-dir", str(tmp_path)])
    assert result.exit_code == 130, result.output
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1"
    failure = suite.find("testcase[@name='run_completed']/failure")
    assert failure is not None and (failure.get("message") or "").startswith("run interrupted")


def test_a_failed_run_still_writes_a_failing_junit(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    made = synthetic_run(slo=PASSING_SLOS)
    made.meta.status, made.meta.error = "failed", "FaultError: revert failed: eth0 still down"
    folder = write_run(tmp_path / "run", made)
    write_results(folder)  # as the run does before it raises
    monkeypatch.setattr(labmod, "require_up", lambda name: None)
    monkeypatch.setattr(preparation, "prepare", lambda spec, cluster: None)

    def execute(spec: Any, text: str, cluster: Any, runs_dir: Path, events: RunEvents, *args: Any) -> Path:
        events.folder_made(folder)
        raise FaultError("nic-down on node3: revert failed: eth0 still down")

    monkeypatch.setattr(experiment, "execute", execute)
    junit = tmp_path / "junit.xml"
    result = CliRunner().invoke(app, ["run", "--junit", str(junit), "--runs-dir", str(tmp_path)])
    assert isinstance(result.exception, FaultError)  # the CLI turns it into one line and exit 2
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and suite.get("failures") == "1"
    failure = suite.find("testcase[@name='run_completed']/failure")
    assert failure is not None and "revert failed" in (failure.get("message") or "")
