"""The pytest plugin in pytest sessions of their own (pytester, in process): which cluster it takes, when it skips,
and what a run puts in pytest's JUnit XML (the run stubbed with the synthetic run's folder)."""

from __future__ import annotations

import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from pulltheplug import api
from pulltheplug.analysis.results import write_results
from pulltheplug.pytest_plugin import ENV_INVENTORY, ENV_LAB, PtpTarget, skip_reason, target_of
from tests.report.synthetic import synthetic_run, write_run

pytest_plugins = ["pytester"]

USES_RUN = """
def test_cut(ptp_run):
    result = ptp_run(fault="nic-down", target="node3", duration="5s", steady="3s")
    assert result.status == "complete"
"""


@pytest.fixture(autouse=True)
def no_cluster_in_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_LAB, raising=False)
    monkeypatch.delenv(ENV_INVENTORY, raising=False)


def test_the_option_over_the_environment_over_the_ini(pytester: pytest.Pytester,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    pytester.makeini("[pytest]\nptp_lab = fromini\n")
    assert target_of(pytester.parseconfig()) == PtpTarget(lab="fromini")
    monkeypatch.setenv(ENV_LAB, "fromenv")
    assert target_of(pytester.parseconfig()) == PtpTarget(lab="fromenv")
    assert target_of(pytester.parseconfig("--ptp-lab", "fromopt")) == PtpTarget(lab="fromopt")
    monkeypatch.delenv(ENV_LAB)
    pytester.makeini("[pytest]\n")
    assert target_of(pytester.parseconfig("--ptp-inventory", "hosts.yaml")) == PtpTarget(inventory=Path("hosts.yaml"))
    assert target_of(pytester.parseconfig()) is None
    with pytest.raises(pytest.UsageError, match="not both"):
        target_of(pytester.parseconfig("--ptp-lab", "a", "--ptp-inventory", "hosts.yaml"))


def test_why_it_skips() -> None:
    assert "no cluster configured (--ptp-lab NAME" in (skip_reason(None, 0) or "")
    assert skip_reason(PtpTarget(lab="lab"), 1000) == "pulltheplug: lab lab needs root"
    assert skip_reason(PtpTarget(lab="lab"), 0) is None
    assert skip_reason(PtpTarget(inventory=Path("hosts.yaml")), 1000) is None  # SSH hosts need no local root


def test_without_a_cluster_the_fault_tests_are_skipped_saying_why(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USES_RUN)
    outcome = pytester.runpytest_inprocess("-rs", "-p", "no:cacheprovider")
    outcome.assert_outcomes(skipped=1)
    outcome.stdout.fnmatch_lines(["*pulltheplug: no cluster configured*"])


@pytest.mark.skipif(os.geteuid() != 0, reason="a lab is only looked for as root")
def test_a_lab_that_is_not_up_errors_the_test_with_pulltheplug_s_message(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USES_RUN)
    outcome = pytester.runpytest_inprocess("--ptp-lab", "nolab", "-p", "no:cacheprovider")
    outcome.assert_outcomes(errors=1)
    outcome.stdout.fnmatch_lines(["*pulltheplug: lab nolab: no lab 'nolab' is up*"])


def test_a_run_s_folder_and_figures_land_in_pytest_s_junit(pytester: pytest.Pytester, tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    folder = write_run(tmp_path / "run", synthetic_run())
    write_results(folder)
    asked: list[dict[str, Any]] = []

    def run_fault(fault: str, target: str, duration: str, **keywords: Any) -> api.RunResult:
        asked.append({"fault": fault, "target": target, "duration": duration, **keywords})
        return api.result_of(folder)

    monkeypatch.setattr(api, "open_cluster", lambda **keywords: "cluster")
    monkeypatch.setattr(api, "run_fault", run_fault)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    pytester.makepyfile(USES_RUN)
    junit = tmp_path / "junit.xml"
    runs = tmp_path / "runs"
    outcome = pytester.runpytest_inprocess("--ptp-lab", "ptpt", "--ptp-runs-dir", str(runs), f"--junitxml={junit}",
                                           "-p", "no:cacheprovider", "-W", "error::pytest.PytestWarning")
    outcome.assert_outcomes(passed=1)
    (call,) = asked
    assert call == {"fault": "nic-down", "target": "node3", "duration": "5s", "steady": "3s", "lab": "ptpt",
                    "inventory": None, "runs_dir": runs}
    case = ET.parse(junit).getroot().find("testsuite/testcase")
    assert case is not None
    properties = {p.get("name"): p.get("value") for p in case.iterfind("properties/property")}
    assert properties["pulltheplug.run_folder"] == str(folder)
    assert properties["pulltheplug.availability"] == "0.83325"
    assert properties["pulltheplug.failed_slos"] == "max_outage"


def test_the_guide_shows_the_example_the_suite_runs() -> None:
    """docs/guides/pytest.md quotes docs/examples/test_resilience.py whole: the page cannot drift from the test
    the suite runs on its lab (tests/api/test_example_on_a_lab.py)."""
    docs = Path(__file__).resolve().parents[2] / "docs"
    page = (docs / "guides" / "pytest.md").read_text()
    example = (docs / "examples" / "test_resilience.py").read_text()
    assert f"```python\n{example}```\n" in page
