"""JUnit XML: one testsuite per run, a run_completed testcase and one per SLO, a failure for each that failed."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from pulltheplug.analysis.results import results_of
from pulltheplug.report.junit import RUN_COMPLETED, junit_xml, write_junit
from tests.report.synthetic import PASSING_SLOS, synthetic_run


def _parse(data: bytes) -> ET.Element:
    root = ET.fromstring(data)
    assert root.tag == "testsuites"
    return root


def test_failing_run_has_one_failure_with_the_slo_message() -> None:
    summary, slos = results_of(synthetic_run())
    root = _parse(junit_xml([(summary, slos)]))
    (suite,) = root.findall("testsuite")
    assert suite.get("name") == "nic-down-node3"
    assert (suite.get("tests"), suite.get("failures")) == ("3", "1")
    assert (root.get("tests"), root.get("failures")) == ("3", "1")
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {RUN_COMPLETED, "availability", "max_outage"}
    assert cases["availability"].find("failure") is None and cases[RUN_COMPLETED].find("failure") is None
    said = cases["availability"].findtext("system-out") or ""
    assert said.startswith("availability (fault+recovery) ")  # a passing case says which phases it judged
    failure = cases["max_outage"].find("failure")
    assert failure is not None
    assert failure.get("message") == next(r.message for r in slos if r.name == "max_outage")
    assert "max_outage 20.010s > 5s" in (failure.text or "")


def test_passing_run_has_no_failure(tmp_path: Path) -> None:
    summary, slos = results_of(synthetic_run(slo=PASSING_SLOS))
    path = write_junit(tmp_path / "out" / "junit.xml", [(summary, slos)])
    suite = _parse(path.read_bytes()).find("testsuite")
    assert suite is not None
    assert (suite.get("tests"), suite.get("failures")) == ("2", "0")
    assert suite.find("testcase/failure") is None


def test_an_interrupted_run_fails_its_run_completed_case_whatever_its_slos() -> None:
    summary, slos = results_of(synthetic_run(slo=PASSING_SLOS, interrupted_at=35.0))
    suite = _parse(junit_xml([(summary, slos)])).find("testsuite")
    assert suite is not None
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    assert set(cases) == {RUN_COMPLETED, "availability"}
    assert cases["availability"].find("failure") is None
    failure = cases[RUN_COMPLETED].find("failure")
    assert failure is not None and (failure.get("message") or "").startswith("run interrupted: stopped at 35.")
    assert (suite.get("tests"), suite.get("failures")) == ("2", "1")


def test_without_slos_the_run_is_judged_on_completing() -> None:
    complete = results_of(synthetic_run(slo={}))
    interrupted = results_of(synthetic_run(slo={}, interrupted_at=35.0))
    root = _parse(junit_xml([complete, interrupted]))
    suites = root.findall("testsuite")
    assert len(suites) == 2
    assert [c.get("name") for s in suites for c in s.findall("testcase")] == [RUN_COMPLETED, RUN_COMPLETED]
    assert suites[0].find("testcase/failure") is None
    failure = suites[1].find("testcase/failure")
    assert failure is not None and (failure.get("message") or "").startswith("run interrupted")
    assert root.get("failures") == "1"


def test_findings_are_properties_and_a_forbidden_one_is_a_failing_case() -> None:
    """The synthetic run's node3 is lost twice for one fault (a second loss appended here): flapping."""
    import dataclasses

    from pulltheplug.analysis import summarize
    from pulltheplug.analysis.verdict import check_slos
    from pulltheplug.records.events import event

    run = synthetic_run()
    run.events += [event(44.0, "node", {"node": "node3", "state": "down", "availability": "active", "role": "manager",
                                        "manager": "unreachable"}),
                   event(46.0, "node", {"node": "node3", "state": "ready", "availability": "active",
                                        "role": "manager", "manager": "reachable"})]
    summary = summarize(run)
    slos = check_slos(summary, {"no_findings": ["flapping", "split-view"]})
    (suite,) = _parse(junit_xml([(summary, slos)])).findall("testsuite")
    props = {p.get("name"): p.get("value") for p in suite.iter("property")}
    assert props["finding.flapping"] == "node3 went Down and back 2 times for one fault"
    cases = {c.get("name"): c for c in suite.findall("testcase")}
    flap, after = cases["no_findings[flapping]"], cases["no_findings[split-view]"]
    assert flap.find("failure") is not None and after.find("failure") is None
    assert dataclasses.replace(summary, findings=[]).findings == []  # the field is plain data
