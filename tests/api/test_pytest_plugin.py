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
from pulltheplug.errors import ClusterError
from pulltheplug.pytest_plugin import ENV_INVENTORY, ENV_KNOWN_HOSTS, ENV_LAB, PtpTarget, skip_reason, target_of
from tests.report.synthetic import PASSING_SLOS, synthetic_run, write_run

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
    monkeypatch.delenv(ENV_KNOWN_HOSTS, raising=False)


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


def test_the_first_source_naming_a_cluster_wins_whole(pytester: pytest.Pytester,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """A lab on the command line over an inventory in the ini file (and the other way round) is no clash: only one
    source naming both is."""
    pytester.makeini("[pytest]\nptp_inventory = hosts.yaml\nptp_known_hosts = /etc/kh\n")
    assert target_of(pytester.parseconfig("--ptp-lab", "mylab")) == PtpTarget(lab="mylab",
                                                                              known_hosts=Path("/etc/kh"))
    assert target_of(pytester.parseconfig()) == PtpTarget(inventory=Path("hosts.yaml"), known_hosts=Path("/etc/kh"))
    monkeypatch.setenv(ENV_LAB, "fromenv")
    monkeypatch.setenv(ENV_KNOWN_HOSTS, "/env/kh")
    assert target_of(pytester.parseconfig()) == PtpTarget(lab="fromenv", known_hosts=Path("/env/kh"))
    assert target_of(pytester.parseconfig("--ptp-inventory", "b.yaml", "--ptp-known-hosts", "/opt/kh")) == PtpTarget(
        inventory=Path("b.yaml"), known_hosts=Path("/opt/kh"))
    monkeypatch.setenv(ENV_INVENTORY, "env.yaml")
    with pytest.raises(pytest.UsageError, match=r"the environment gives a lab \(fromenv\) and an inventory"):
        target_of(pytester.parseconfig())
    assert target_of(pytester.parseconfig("--ptp-lab", "mylab")) == PtpTarget(lab="mylab", known_hosts=Path("/env/kh"))


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
def test_a_lab_that_is_not_up_fails_the_test_with_pulltheplug_s_message(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(USES_RUN)
    outcome = pytester.runpytest_inprocess("--ptp-lab", "nolab", "-p", "no:cacheprovider")
    outcome.assert_outcomes(failed=1)
    outcome.stdout.fnmatch_lines(["*pulltheplug: lab nolab: no lab 'nolab' is up*"])


def test_a_run_opens_its_own_cluster_only(pytester: pytest.Pytester, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """ptp_run holds no session cluster beside the run's own (SSH sessions that go stale when a node reboots);
    a cluster the run cannot open fails the test with pulltheplug's message, no traceback."""
    opened: list[object] = []
    monkeypatch.setattr(api, "open_cluster", lambda **keywords: opened.append(keywords))

    def run_fault(*args: Any, **keywords: Any) -> api.RunResult:
        raise ClusterError("no lab 'ptpt' is up (pulltheplug lab up)")

    monkeypatch.setattr(api, "run_fault", run_fault)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    pytester.makepyfile(USES_RUN)
    outcome = pytester.runpytest_inprocess("--ptp-lab", "ptpt", "--ptp-runs-dir", str(tmp_path),
                                           "-p", "no:cacheprovider")
    outcome.assert_outcomes(failed=1)
    outcome.stdout.fnmatch_lines(["*pulltheplug: lab ptpt: no lab 'ptpt' is up (pulltheplug lab up)*"])
    outcome.stdout.no_fnmatch_line("*raise ClusterError*")
    assert opened == []


def test_an_interrupted_run_ends_the_session(pytester: pytest.Pytester, tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    """The run's own handler takes the Ctrl-C (the fault reverted, the records kept) and returns: its test fails
    with its figures in the JUnit XML, and the session stops there: no later test starts a fault."""
    folder = write_run(tmp_path / "run", synthetic_run(slo=PASSING_SLOS, interrupted_at=25.0))
    write_results(folder)
    asked: list[str] = []

    def run_fault(fault: str, target: str, duration: str, **keywords: Any) -> api.RunResult:
        asked.append(target)
        return api.result_of(folder)

    monkeypatch.setattr(api, "run_fault", run_fault)
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    pytester.makepyfile(USES_RUN + USES_RUN.replace("test_cut", "test_another_cut"))
    junit = tmp_path / "junit.xml"
    outcome = pytester.runpytest_inprocess("--ptp-lab", "ptpt", "--ptp-runs-dir", str(tmp_path),
                                           f"--junitxml={junit}", "-p", "no:cacheprovider")
    assert outcome.ret == api.INTERRUPTED
    assert asked == ["node3"]
    outcome.stdout.fnmatch_lines([f"*pulltheplug: run interrupted (records in {folder})*"])
    (case,) = ET.parse(junit).getroot().iterfind("testsuite/testcase")
    assert case.get("name") == "test_cut" and case.find("failure") is not None
    properties = {p.get("name"): p.get("value") for p in case.iterfind("properties/property")}
    assert properties["pulltheplug.status"] == "interrupted"


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
                    "inventory": None, "known_hosts": None, "runs_dir": runs}
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
