"""The terminal summary shows what the run wrote to summary.json; it recomputes only where there is none."""

from __future__ import annotations

import re
from pathlib import Path

from rich.console import Console

from pulltheplug.cli.render import render_summary
from pulltheplug.record import load_run
from pulltheplug.results import results_of
from tests.report.synthetic import synthetic_run, write_run
from tests.test_results import doctored


def _printed(folder: Path) -> str:
    console = Console(record=True, width=200)
    render_summary(console, folder)
    return console.export_text()


def test_the_summary_is_read_from_summary_json_not_recomputed(tmp_path: Path) -> None:
    folder = doctored(write_run(tmp_path / "run", synthetic_run()))
    assert re.search(r"longest outage\s*│\s*99\.00s", _printed(folder))


def test_a_run_without_summary_json_is_summarized_from_its_records(tmp_path: Path) -> None:
    folder = write_run(tmp_path / "run", synthetic_run())
    outage = results_of(load_run(folder))[0].longest_outage
    assert f"{outage:.2f}s" in _printed(folder)
