"""The terminal summary of a run: what it counts and labels, and that it shows what the run wrote to
summary.json (recomputing only where there is none)."""

from __future__ import annotations

import re
from pathlib import Path

from rich.console import Console

from pulltheplug.analysis import Summary, summarize
from pulltheplug.analysis.results import results_of
from pulltheplug.cli.render import render_summary, summary_tables
from pulltheplug.records.folder import load_run
from pulltheplug.records.model import NOT_SENT, RequestRecord
from tests.analysis.history import run, stream
from tests.analysis.test_windowed import round_robin_door
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


def _tables_text(summary: Summary) -> str:
    console = Console(record=True, width=200)
    for t in summary_tables(summary, []):
        console.print(t)
    return console.export_text()


def test_worst_windows_and_error_seconds_are_shown_per_size_and_entry() -> None:
    text = _tables_text(summarize(run(round_robin_door())))
    assert re.search(r"worst window\s*│\s*1s 80\.00% \(9\.99-10\.99s, 40 of 200 failed\)", text)
    assert re.search(r"│\s*1s\s*│\s*80\.00%\s*│\s*80\.00%\s*│", text)  # all entries, then the one entry
    assert re.search(r"error seconds\s*│\s*4\s*│\s*4\s*│", text)
    assert "longest outage    │ 0.01s (consecutive failures on one entry point)" in text
    assert "every entry down at once" not in text  # one entry: those windows are its own again


def test_outage_windows_are_listed_by_start_and_every_entry_down_apart() -> None:
    def fail(entry: str, due: float) -> str | None:
        return "refused" if (entry == "node3" and 12.0 <= due < 14.0) or 20.0 <= due < 20.5 else None

    text = _tables_text(summarize(run(stream(200.0, 30.0, fail=fail))))
    per_entry = text.split("outage windows per entry point (4)")[1].split("every entry down at once (1)")
    starts = [float(x) for x in re.findall(r"│ node\d │\s*([\d.]+) │", per_entry[0])]
    assert starts == sorted(starts) and len(starts) == 4
    assert re.search(r"│\s*all │ 20\.000 │ 20\.500 │", per_entry[1])
