"""Outage windows: their edges are right to within one request spacing, per entry and for all."""

from __future__ import annotations

import pytest

from pulltheplug.analysis import ALL, longest_outage
from tests.analysis.history import failing, stream
from tests.oracles import outage_windows, request_spacing

RATE = 200.0  # over 3 entries: each entry gets a request every 15 ms


def test_node3_outage_has_known_edges_and_all_entries_have_none() -> None:
    requests = stream(RATE, 30.0, fail=failing("node3", 12.0, 14.0))
    windows = outage_windows(requests)

    spacing = request_spacing([r for r in requests if r.target == "node3"])
    assert spacing == pytest.approx(3 / RATE)
    assert [w.entry for w in windows] == ["node3"]  # nothing for node1, node2, nor "all"
    (w,) = windows
    assert 12.0 <= w.start < 12.0 + spacing
    assert abs(w.end - 14.0) <= spacing
    assert w.duration == pytest.approx(2.0, abs=spacing)
    assert w.failed == sum(1 for r in requests if r.outcome != "ok")
    assert requests[w.first_k].due == w.start
    assert requests[w.last_k].target == "node3"
    assert w.errors == {"refused": w.failed}
    assert not w.open
    assert longest_outage(windows) == w.duration


def test_all_window_only_where_every_entry_failed() -> None:
    def fail(entry: str, due: float) -> str | None:
        if 5.0 <= due < 8.0 and entry == "node1":
            return "reset"
        return "unreachable" if 6.0 <= due < 7.0 else None

    windows = outage_windows(stream(RATE, 10.0, fail=fail))
    everywhere = [w for w in windows if w.entry == ALL]
    assert len(everywhere) == 1
    assert 6.0 <= everywhere[0].start < 6.0 + 1 / RATE
    assert abs(everywhere[0].end - 7.0) <= 1 / RATE
    assert everywhere[0].errors.keys() == {"reset", "unreachable"}
    node1 = [w for w in windows if w.entry == "node1"]
    assert len(node1) == 1 and node1[0].duration == pytest.approx(3.0, abs=3 / RATE)
    assert longest_outage(windows) == node1[0].duration


def test_two_separate_outages_on_one_entry_are_two_windows() -> None:
    def fail(entry: str, due: float) -> str | None:
        return "http_5xx" if entry == "node2" and (1.0 <= due < 2.0 or 4.0 <= due < 4.5) else None

    windows = outage_windows(stream(RATE, 6.0, fail=fail))
    assert [(w.entry, round(w.duration, 1)) for w in windows] == [("node2", 1.0), ("node2", 0.5)]


def test_outage_still_on_at_the_end_is_open() -> None:
    windows = outage_windows(stream(RATE, 10.0, fail=failing("node3", 8.0, 99.0)))
    assert [w.open for w in windows] == [True]


def test_no_failure_means_no_window_and_zero_longest() -> None:
    windows = outage_windows(stream(RATE, 2.0))
    assert windows == []
    assert longest_outage(windows) == 0.0
    assert outage_windows([]) == []
