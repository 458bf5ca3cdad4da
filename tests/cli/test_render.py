"""The terminal summary of a run: what it counts and labels, and that it shows what the run wrote to
summary.json (recomputing only where there is none)."""

from __future__ import annotations

import re
from pathlib import Path

from rich.console import Console

from pulltheplug.cli.render import render_summary, summary_tables
from pulltheplug.record import NOT_SENT, RequestRecord, load_run
from pulltheplug.results import results_of
from tests.report.synthetic import PASSING_SLOS, synthetic_run, write_run
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


def _text(slo: dict[str, object] | None = None, not_sent: int = 0) -> str:
    made = synthetic_run(slo=PASSING_SLOS if slo is None else slo, interrupted_at=35.0)
    last = made.requests[-1]
    made.requests += [RequestRecord(k=last.k + 1 + i, due=last.due + (i + 1) / 100, sent=None, end=35.0,
                                    target="node1", outcome="fail", error=NOT_SENT) for i in range(not_sent)]
    console = Console(record=True, width=200)
    for table in summary_tables(*results_of(made)):
        console.print(table)
    return console.export_text()


def test_requests_never_sent_are_counted_in_the_summary() -> None:
    assert "not sent 7" in _text(not_sent=7)


def test_latency_table_shows_all_requests_and_ok_ones_labelled_with_their_timeouts() -> None:
    made = synthetic_run(slo=PASSING_SLOS, interrupted_at=35.0)
    summary, _ = results_of(made)
    every, ok = summary.latency_all["overall"], summary.latency_ok["overall"]
    assert every is not None and ok is not None and every.timeouts > 0
    cells = [line.replace("\u2502", " ").split() for line in _text().splitlines()]
    rows = {tuple(c[:2]): c[2:] for c in cells if c[:1] in (["all"], ["ok"])}
    assert rows[("all", "overall")][:2] == [str(every.count), str(every.timeouts)]
    assert rows[("ok", "overall")][:2] == [str(ok.count), "0"]
    assert float(rows[("all", "overall")][4]) >= 999.0 > float(rows[("ok", "overall")][4])  # p99: the timeout
