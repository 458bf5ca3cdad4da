"""The verdict as JUnit XML, so a CI system shows each SLO as a test that passed or failed.

One testsuite per run: a `run_completed` testcase (failing when the run was interrupted or failed),
then one testcase per SLO (`slo.no_findings` gives one per rule); each finding found is a property.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterable
from pathlib import Path

from pulltheplug.analysis import Summary
from pulltheplug.analysis.verdict import RUN_COMPLETED, SloResult


def _case(suite: ET.Element, classname: str, name: str, failure: str | None, details: str = "",
          said: str = "") -> None:
    """`said`: the SLO's one line, passed or not (e.g. which phases availability judged), as system-out."""
    case = ET.SubElement(suite, "testcase", classname=classname, name=name, time="0")
    if failure is not None:
        fail = ET.SubElement(case, "failure", message=failure, type="SLO")
        fail.text = details or failure
    if said:
        ET.SubElement(case, "system-out").text = said


def run_testsuite(summary: Summary, slos: list[SloResult]) -> ET.Element:
    """The suite of one run; its time is the run's duration."""
    classname = f"pulltheplug.{summary.name}"
    suite = ET.Element("testsuite", name=summary.name, time=f"{summary.duration:.3f}", errors="0", skipped="0")
    props = ET.SubElement(suite, "properties")
    for key, value in (("status", summary.status), ("fault", summary.fault.kind), ("node", summary.fault.node),
                       ("target", summary.fault.target)):
        ET.SubElement(props, "property", name=key, value="" if value is None else str(value))
    for finding in summary.findings:
        if finding.found:
            ET.SubElement(props, "property", name=f"finding.{finding.rule}", value=finding.text)
    completed = next((r for r in slos if r.name == RUN_COMPLETED), None)  # check_slos adds it when not complete
    failure = None if summary.status == "complete" else completed.message if completed else f"run {summary.status}"
    _case(suite, classname, RUN_COMPLETED, failure)
    for r in slos:
        if r is completed:
            continue
        measured = "not measured" if r.measured is None else f"{r.measured:g}"
        _case(suite, classname, r.name, None if r.passed else r.message,
              f"{r.message}\nlimit {r.limit:g}, measured {measured}, run status {summary.status}", r.message)
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(c.find("failure") is not None for c in cases)))
    return suite


def junit_xml(runs: Iterable[tuple[Summary, list[SloResult]]]) -> bytes:
    """A <testsuites> document holding one suite per (summary, SLO results) pair."""
    root = ET.Element("testsuites", name="pulltheplug")
    for summary, slos in runs:
        root.append(run_testsuite(summary, slos))
    root.set("tests", str(sum(int(s.get("tests", "0")) for s in root)))
    root.set("failures", str(sum(int(s.get("failures", "0")) for s in root)))
    ET.indent(root)
    data: bytes = ET.tostring(root, encoding="utf-8", xml_declaration=True)
    return data + b"\n"


def write_junit(path: Path, runs: Iterable[tuple[Summary, list[SloResult]]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(junit_xml(runs))
    return path
