"""A run's results as files: `summary.json` (summary + verdict) written beside the records.

Made from the records alone, so it can be remade anywhere, after the lab is gone.
"""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pulltheplug.analysis import Summary, summarize
from pulltheplug.record import Run, load_run
from pulltheplug.verdict import SloResult, check_slos, exit_code

SUMMARY = "summary.json"


def results_of(run: Run) -> tuple[Summary, list[SloResult]]:
    summary = summarize(run)
    return summary, check_slos(summary, run.meta.slo)


def results_dict(summary: Summary, slos: list[SloResult]) -> dict[str, Any]:
    return {"summary": summary.to_dict(), "slos": [asdict(s) for s in slos], "passed": exit_code(slos) == 0}


def write_results(folder: Path) -> tuple[Run, Summary, list[SloResult]]:
    run = load_run(folder)
    summary, slos = results_of(run)
    (folder / SUMMARY).write_text(json.dumps(results_dict(summary, slos), indent=2, default=str))
    return run, summary, slos
