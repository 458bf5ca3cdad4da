"""A small campaign end to end: 2 faults x 1 target x 2 repetitions on the real 4-node lab."""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

from pulltheplug.lab import lab as labmod
from pulltheplug.report.campaign_html import campaign_results

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[2]


def test_small_campaign_comparison_matches_single_runs(lab: labmod.Lab, tmp_path: Path) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "pulltheplug", "campaign", str(ROOT / "scenarios" / "campaign-small.yaml"),
         "--runs-dir", str(tmp_path)],
        capture_output=True, text=True, timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    folder = next(tmp_path.glob("*-campaign-small"))
    report = folder / "report.html"
    assert report.exists() and "nic-down@random-worker" in report.read_text()
    res = campaign_results(folder)
    assert [r.entry.scenario for r in res.runs] == ["nic-down@random-worker", "power-loss@random-worker"] * 2
    assert all(r.counted for r in res.runs)
    for scenario in ("nic-down@random-worker", "power-loss@random-worker"):
        # the figures of the comparison are those of the single-run summaries, run by run
        singles = [json.loads((folder / r.entry.folder / "summary.json").read_text())["summary"]
                   for r in res.runs if r.entry.scenario == scenario]
        outage = res.comparison.stats["outage"][scenario]
        assert outage.n == 2
        assert outage.mean == pytest.approx(statistics.mean(s["longest_outage"] for s in singles))
        failed = res.comparison.stats["failed"][scenario]
        assert failed.mean == pytest.approx(
            statistics.mean(s["outcomes"]["fail"] + s["outcomes"]["info"] for s in singles))
        assert outage.mean > 5  # eth0 down or power cut for 8 s: the worker's entry point was out
