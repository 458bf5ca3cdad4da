"""The docs' example resilience test (docs/examples/test_resilience.py), run by pytest itself on the shared lab,
as a team's CI would run it: it passes, and pytest's own JUnit XML carries the run's folder and figures."""

from __future__ import annotations

import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from pulltheplug.lab import lab as labmod

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "docs" / "examples" / "test_resilience.py"
BUDGET = 90.0  # s: the suite's whole budget is near its end; a 5 s cut with 3 s phases takes about half that


def test_the_docs_example_passes_on_the_shared_lab(lab: labmod.Lab, tmp_path: Path) -> None:
    junit = tmp_path / "junit.xml"
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "pytest", str(EXAMPLE), "-p", "no:cacheprovider", "-q",
                           "--rootdir", str(ROOT), "--ptp-lab", lab.name, "--ptp-runs-dir", str(tmp_path / "runs"),
                           f"--junitxml={junit}"], cwd=ROOT, capture_output=True, text=True, timeout=4 * BUDGET)
    took = time.monotonic() - started
    print(f"the example took {took:.1f} s")
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    case = ET.parse(junit).getroot().find("testsuite/testcase")
    assert case is not None and case.find("failure") is None and case.find("skipped") is None
    properties = {p.get("name"): p.get("value") for p in case.iterfind("properties/property")}
    print("\n".join(f"{name} = {value}" for name, value in properties.items()))
    folder = Path(properties["pulltheplug.run_folder"] or "")
    assert folder.parent == tmp_path / "runs" and (folder / "summary.json").exists()
    assert (folder / "report.html").exists()
    assert properties["pulltheplug.status"] == "complete"
    assert properties["pulltheplug.fault"] == "nic-down@node4"  # the lab's one worker
    assert 0.7 <= float(properties["pulltheplug.worst_1s"] or "nan") < 1.0  # the cut was felt, on node4's share
    assert float(properties["pulltheplug.recovered_after_s"] or "nan") <= 20
    assert took < BUDGET
