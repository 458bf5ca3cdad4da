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
