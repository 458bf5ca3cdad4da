"""A run's results as files: `summary.json` (summary + verdict) written beside the records.

Made from the records alone, so it can be remade anywhere, after the lab is gone. The run writes it once
as it ends; the terminal summary and the campaign report read it back (`results_of_folder`) and make it
from the records only where it is missing (a run folder older than it, or a run killed before it).
"""

from __future__ import annotations

import json
import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

from pydantic import TypeAdapter, ValidationError

from pulltheplug.analysis import Summary, summarize
from pulltheplug.analysis.verdict import SloResult, check_slos, exit_code
from pulltheplug.records.folder import load_run
from pulltheplug.records.model import Run

SUMMARY = "summary.json"

log = logging.getLogger(__name__)

_SUMMARY = TypeAdapter(Summary)
_SLOS = TypeAdapter(list[SloResult])


def results_of(run: Run) -> tuple[Summary, list[SloResult]]:
    summary = summarize(run)
    return summary, check_slos(summary, run.meta.slo)


def results_dict(summary: Summary, slos: list[SloResult]) -> dict[str, Any]:
    return {"summary": summary.to_dict(), "slos": [asdict(s) for s in slos], "passed": exit_code(slos) == 0}


def write_results(folder: Path) -> tuple[Run, Summary, list[SloResult]]:
    """Make the results from the records and (re)write summary.json."""
    run = load_run(folder, columnar=True)
    summary, slos = results_of(run)
    (folder / SUMMARY).write_text(json.dumps(results_dict(summary, slos), indent=2, default=str))
    return run, summary, slos


def read_results(folder: Path) -> tuple[Summary, list[SloResult]] | None:
    """summary.json as the run wrote it; None when there is none, or it does not read as one (an older layout)."""
    path = folder / SUMMARY
    try:
        data = json.loads(path.read_text())
        return _SUMMARY.validate_python(data["summary"]), _SLOS.validate_python(data["slos"])
    except FileNotFoundError:
        return None
    except (ValueError, KeyError, TypeError) as exc:  # ValidationError and JSONDecodeError are ValueErrors
        reason = f"{exc.error_count()} field(s) differ" if isinstance(exc, ValidationError) else str(exc)
        log.warning("%s does not read as a summary (%s): made again from the records", path, reason)
        return None


def results_of_folder(folder: Path) -> tuple[Summary, list[SloResult]]:
    """summary.json where the run wrote it, else made from the records (and not written: reading stays reading)."""
    return read_results(folder) or results_of(load_run(folder, columnar=True))
