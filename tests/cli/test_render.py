"""The terminal summary of a run: what it counts and labels, rendered as plain text."""

from __future__ import annotations

from rich.console import Console

from pulltheplug.cli.render import summary_tables
from pulltheplug.record import NOT_SENT, RequestRecord
from pulltheplug.results import results_of
from tests.report.synthetic import PASSING_SLOS, synthetic_run


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
