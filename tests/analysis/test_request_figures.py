"""The vectorised request figures equal their per-record twins, on histories made to reach every edge."""

from __future__ import annotations

import random

import pytest

from pulltheplug.analysis.phases import Phases
from pulltheplug.analysis.request_figures import (
    availability_of,
    client_lag_of,
    errors_of,
    latency_of,
    outage_windows_of,
    outcomes_of,
    sent_mask,
)
from pulltheplug.records.columns import RequestColumns
from pulltheplug.records.model import NOT_SENT, Outcome, RequestRecord
from pulltheplug.report.timeline import column_bins
from tests.oracles import (
    availability,
    client_lag,
    errors_by_kind,
    latency_tables,
    outage_windows,
    outcome_counts,
    request_bins,
)
from tests.report.synthetic import requests as synthetic_requests

ENTRIES = ("node10", "node2", "node1")  # natural order is node1, node2, node10


def history(seed: int, n: int = 3000) -> list[RequestRecord]:
    """Outages of one entry and of all, lone failures, timeouts, interrupted and never-sent requests, an open
    window at the end; written in end order, as a run writes them."""
    rng = random.Random(seed)
    out = []
    for k in range(n):
        due = k / 100.0
        target = ENTRIES[k % 3]
        down = (5.0 <= due < 8.0 and target == "node2") or 12.0 <= due < 13.5 or due >= n / 100.0 - 0.2
        sent: float | None = due + rng.uniform(0, 0.002)
        outcome: Outcome = "ok"
        error = None
        if down or rng.random() < 0.01:
            outcome, error = rng.choice([("fail", "refused"), ("info", "timeout"), ("fail", None), ("info", None),
                                         ("fail", "http_5xx"), ("fail", "connect_timeout")])
        if rng.random() < 0.003:
            outcome, error = "info", "interrupted"
        if rng.random() < 0.003:
            sent, outcome, error = None, "fail", NOT_SENT
        end = (sent or due) + (1.0 if error == "timeout" else rng.expovariate(500))
        out.append(RequestRecord(k, due, sent, end, target, outcome, 200 if outcome == "ok" else None, error,
                                 target if outcome == "ok" else None, "t1" if outcome == "ok" else None))
    return sorted(out, key=lambda r: r.end)


CASES = [history(1), history(2, n=900), synthetic_requests(), history(3, n=2)]
PHASES = [Phases(0.0, 4.0, 9.0, 30.0), Phases(0.0, None, None, 30.0), Phases(0.0, 6.0, None, 30.0)]


@pytest.mark.parametrize("records", CASES, ids=["3 entries", "short", "synthetic", "two requests"])
@pytest.mark.parametrize("phases", PHASES, ids=["fault and revert", "no fault", "never reverted"])
def test_each_figure_equals_the_per_record_one(records: list[RequestRecord], phases: Phases) -> None:
    c = RequestColumns.from_records(records)
    sent = sent_mask(c)
    were_sent = [r for r in records if r.was_sent]
    assert outcomes_of(c, sent) == outcome_counts(records)
    assert list(errors_of(c, sent).items()) == list(errors_by_kind(were_sent).items())  # the order too
    assert availability_of(c, sent, phases) == availability(were_sent, phases)
    assert latency_of(c, sent, phases) == latency_tables(were_sent, phases)
    assert client_lag_of(c, sent) == client_lag(were_sent)
    assert outage_windows_of(c, sent) == outage_windows(were_sent)


@pytest.mark.parametrize("records", CASES[:3], ids=["3 entries", "short", "synthetic"])
def test_the_timeline_bins_equal_the_per_record_ones(records: list[RequestRecord]) -> None:
    c = RequestColumns.from_records(records)
    assert column_bins(c, 31.0) == request_bins(records, 31.0)


def test_the_edges_are_reached() -> None:
    """The histories above hold what the figures must get right, or the equality proves little."""
    records = CASES[0]
    windows = outage_windows(records)
    assert any(w.entry == "all" for w in windows) and any(w.open for w in windows)
    assert any(w.entry == "node2" and w.duration > 2.5 for w in windows)
    assert {r.error for r in records} >= {NOT_SENT, "interrupted", "timeout", None, "refused"}
    assert len(errors_by_kind([r for r in records if r.was_sent])) >= 6


def test_columns_give_back_the_records() -> None:
    records = CASES[0]
    assert RequestColumns.from_records(records).records() == records
