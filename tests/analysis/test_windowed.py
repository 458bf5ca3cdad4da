"""Windowed availability, error seconds and the degraded span, held against a plain loop over the windows."""

from __future__ import annotations

import dataclasses
import json
import random
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from pulltheplug.analysis import summarize
from pulltheplug.analysis.request_figures import sent_mask
from pulltheplug.analysis.results import read_results, write_results
from pulltheplug.analysis.verdict import check_slos
from pulltheplug.analysis.windowed import (
    MIN_REQUESTS,
    DegradedSpan,
    degraded_span_of,
    error_seconds_of,
    window_step,
    windowed_figures,
    worst_of,
    worst_window,
)
from pulltheplug.errors import SpecError
from pulltheplug.records.columns import RequestColumns
from pulltheplug.records.model import RequestRecord
from pulltheplug.report.junit import junit_xml
from pulltheplug.spec import SloSpec, parse_spec
from tests.analysis.history import run, stream
from tests.report.synthetic import synthetic_run, write_run

RATE = 200.0


def round_robin_door(rate: float = RATE, duration: float = 30.0) -> list[RequestRecord]:
    """Behind HAProxy: one entry; one request in five (the dead node's turn) fails from 10 s to 13.5 s."""
    requests = stream(rate, duration, ["haproxy"])
    return [dataclasses.replace(r, outcome="fail", status=None, error="refused")
            if r.k % 5 == 2 and 10.0 <= r.due < 13.5 else r for r in requests]


def brute_worst(due: list[float], ok: list[bool], window: float, spacing: float,
                min_requests: int = MIN_REQUESTS) -> tuple[float | None, float | None]:
    """The oracle: every window start on the grid, its requests counted one by one."""
    if not due:
        return None, None
    step = window_step(window)
    first, stop = due[0], due[-1] + spacing
    worst: tuple[float | None, float | None] = (None, None)
    i = 0
    while first + i * step + window <= stop + 1e-9 * step:
        start = round(first + i * step, 9)
        inside = [o for d, o in zip(due, ok, strict=True) if start <= d < round(start + window, 9)]
        if len(inside) >= min_requests:
            ratio = sum(inside) / len(inside)
            if worst[0] is None or ratio < worst[0]:
                worst = (ratio, start)
        i += 1
    return worst


def test_a_door_failing_one_request_in_five_is_80_percent_in_its_worst_second_with_a_tiny_outage() -> None:
    s = summarize(run(round_robin_door()))
    assert s.longest_outage == pytest.approx(1 / RATE)  # no two failures in a row: one request spacing
    one = worst_of(s.windowed_availability, 1.0)
    assert one is not None and one.worst == pytest.approx(0.8)
    assert one.start is not None and 9.0 < one.start <= 12.5
    assert one.requests == 200 and one.failed == 40
    ten = worst_of(s.windowed_availability, 10.0)
    assert ten is not None and ten.worst == pytest.approx(1 - 140 / 2000)
    assert worst_of(s.windowed_availability, 60.0) is not None
    assert worst_of(s.windowed_availability, 60.0).worst is None  # type: ignore[union-attr]  # a 30 s run
    assert s.error_seconds == 4  # seconds 10, 11, 12 and 13
    assert s.degraded_span is not None
    assert s.degraded_span.start == pytest.approx(10.01) and s.degraded_span.end == pytest.approx(13.49)
    assert s.degraded_span.failed == 140 and not s.degraded_span.open
    assert list(s.windowed_availability_by_entry) == ["haproxy"]


@pytest.mark.parametrize("seed", range(8))
def test_the_numpy_worst_window_agrees_with_a_plain_loop(seed: int) -> None:
    rng = random.Random(seed)
    n = rng.randrange(0, 400)
    due = sorted(round(rng.uniform(0.0, 12.0), rng.choice([2, 3, 6])) for _ in range(n))
    ok = [rng.random() > rng.choice([0.02, 0.3, 0.9]) for _ in range(n)]
    spacing = rng.choice([0.0, 0.01, 0.05])
    for window in (0.5, 1.0, 2.5, 10.0, 20.0):
        for least in (1, 5, MIN_REQUESTS):
            got = worst_window(np.array(due, np.float64), np.array(ok, bool), window, spacing, least)
            worst, start = brute_worst(due, ok, window, spacing, least)
            assert (got.worst is None) == (worst is None), (window, least)
            if worst is not None:
                assert got.worst == pytest.approx(worst)
                assert got.start == pytest.approx(start, abs=1e-6)
                assert got.end == pytest.approx(got.start + window, abs=1e-6)  # type: ignore[operator]


def test_per_entry_figures_are_each_entrys_own_stream() -> None:
    requests = stream(RATE, 30.0, fail=lambda e, d: "refused" if e == "node3" and 12.0 <= d < 14.0 else None)
    c = RequestColumns.from_records(requests)
    f = windowed_figures(c, sent_mask(c), [1.0], 10.0)
    assert [x.worst for x in f.by_entry["node3"]] == [0.0]
    assert [x.worst for x in f.by_entry["node1"]] == [1.0]
    assert f.overall[0].worst == pytest.approx(2 / 3, abs=0.01)
    assert f.error_seconds_by_entry == {"node1": 0, "node2": 0, "node3": 2}


def test_a_window_with_too_few_requests_is_left_out() -> None:
    """At 10 req/s a 1 s window holds 10 requests: no 1 s figure; its 10 s windows hold 100 and are judged."""
    requests = stream(10.0, 30.0, ["door"], fail=lambda e, d: "refused" if 10.0 <= d < 10.5 else None)
    s = summarize(run(requests))
    one, ten = worst_of(s.windowed_availability, 1.0), worst_of(s.windowed_availability, 10.0)
    assert one is not None and one.worst is None and one.windows == 0 and one.min_requests == MIN_REQUESTS
    assert ten is not None and ten.worst == pytest.approx(0.95)
    # a stalled client: the windows that fall in a 5 s gap hold too few and are skipped, the others judged
    due = np.concatenate([np.arange(0, 10, 0.01), np.arange(15, 25, 0.01)])
    f = worst_window(due, np.ones(len(due), bool), 1.0, 0.01)
    assert f.worst == 1.0 and f.windows < (25 - 1) / f.step_s


def test_a_window_longer_than_the_run_has_no_figure() -> None:
    due = np.arange(0, 5, 0.01)
    assert worst_window(due, np.ones(len(due), bool), 10.0, 0.01).worst is None
    assert worst_window(np.array([], np.float64), np.array([], bool), 1.0, 0.0).worst is None


def test_error_seconds_are_one_second_bins_with_any_failure() -> None:
    due = np.array([0.5, 1.2, 1.7, 2.0, 3.0, 3.99, 4.0])
    ok = np.array([True, False, False, True, False, False, True])
    assert error_seconds_of(due, ok) == 2  # second 1 and second 3
    assert error_seconds_of(due, np.ones(len(due), bool)) == 0


def test_the_degraded_span_merges_gaps_under_one_second_from_the_fault_start() -> None:
    due = np.round(np.arange(0, 20, 0.1), 6)
    bad = {5.0, 10.0, 10.5, 11.4, 12.5}  # 5.0: before the fault; 12.5 is 1.1 s after 11.4: a span of its own
    ok = np.array([d not in bad for d in due])
    span = degraded_span_of(due, ok, 10.0, 0.1)
    assert span == DegradedSpan(start=10.0, end=pytest.approx(11.5), duration=pytest.approx(1.5),  # type: ignore[arg-type]
                                after_fault_start=0.0, failed=3, requests=15, open=False)
    assert degraded_span_of(due, ok, None, 0.1) is None
    assert degraded_span_of(due, ok, 13.0, 0.1) is None
    ok[-3:] = False
    last = degraded_span_of(due, ok, 19.5, 0.1)
    assert last is not None and last.open and last.failed == 3


def test_the_spec_windows_and_the_slo_windows_are_computed() -> None:
    r = run(round_robin_door())
    r.meta.analysis = {"windows": [2.0, 5.0]}
    r.meta.slo = SloSpec.model_validate({"worst_window": {"window": "0.5s", "at_least": 0.7}}).model_dump()
    s = summarize(r)
    assert [f.window_s for f in s.windowed_availability] == [0.5, 2.0, 5.0]


@pytest.mark.parametrize(("at_least", "passed"), [(0.75, True), (0.9, False)])
def test_the_worst_window_slo_passes_or_fails(at_least: float, passed: bool) -> None:
    s = summarize(run(round_robin_door()))
    slo = SloSpec.model_validate({"worst_window": {"window": "1s", "at_least": at_least}}).model_dump()
    [result] = check_slos(s, slo)
    assert result.name == "worst_window[1s]" and result.passed is passed
    assert result.measured == pytest.approx(0.8)
    assert "40 of 200 failed" in result.message


def test_a_worst_window_slo_without_a_figure_fails_saying_why() -> None:
    s = summarize(run(round_robin_door()))
    slo = SloSpec.model_validate({"worst_window": [{"window": "60s", "at_least": 0.5},
                                                   {"window": "1s", "at_least": 0.5}]}).model_dump()
    results = {r.name: r for r in check_slos(s, slo)}
    assert not results["worst_window[60s]"].passed and "no 60s window held 20 requests" in \
        results["worst_window[60s]"].message
    assert results["worst_window[1s]"].passed
    old = dataclasses.replace(s, windowed_availability=[])
    [missing] = check_slos(old, {"worst_window": {"window": 1.0, "at_least": 0.5}})
    assert not missing.passed and missing.measured is None and "not in this summary" in missing.message


@pytest.mark.parametrize(("text", "message"), [
    ("name: x\nslo:\n  worst_window: {window: 1s, at_least: 1.5}\n", r"spec:3: slo\.worst_window"),
    ("name: x\nanalysis:\n  windows: [1s, soon]\n", r"spec:3: analysis\.windows\.1: .*not a duration"),
    ("name: x\nanalysis:\n  windows: [0s]\n", r"spec:3: analysis\.windows: .*longer than 0s"),
])
def test_bad_window_specs_name_their_line(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_spec(text)


def test_the_spec_reads_windows_and_a_list_of_worst_window_slos() -> None:
    spec = parse_spec("analysis:\n  windows: [10s, 500ms, 10s]\nslo:\n  worst_window:\n"
                      "    - {window: 1s, at_least: 0.9}\n    - {window: 10s, at_least: 0.99}\n")
    assert spec.analysis.windows == [0.5, 10.0]
    assert isinstance(spec.slo.worst_window, list) and spec.slo.worst_window[1].at_least == 0.99
    assert parse_spec("name: x\n").analysis.windows == [1.0, 10.0, 60.0]


def test_a_summary_json_from_before_windowed_availability_still_reads(tmp_path: Path) -> None:
    folder = write_run(tmp_path / "run", synthetic_run())
    write_results(folder)
    path = folder / "summary.json"
    data = json.loads(path.read_text())
    for key in ("windowed_availability", "windowed_availability_by_entry", "error_seconds",
                "error_seconds_by_entry", "degraded_span"):
        del data["summary"][key]
    path.write_text(json.dumps(data))
    read = read_results(folder)
    assert read is not None
    assert read[0].windowed_availability == [] and read[0].error_seconds is None and read[0].degraded_span is None


def test_two_million_requests_take_well_under_a_second_per_window_size() -> None:
    """The budget: a few passes of C per size, not a loop over windows in Python (10 million: ~0.2 s a size)."""
    import time

    due = np.arange(2_000_000, dtype=np.float64) / 2000.0
    ok = np.random.default_rng(1).random(len(due)) > 0.01
    began = time.perf_counter()
    for window in (1.0, 10.0, 60.0):
        assert worst_window(due, ok, window, 1 / 2000).worst is not None
    assert time.perf_counter() - began < 2.0


def test_a_worst_window_slo_is_a_junit_test_case_of_its_own() -> None:
    s = summarize(run(round_robin_door()))
    slo = SloSpec.model_validate({"worst_window": [{"window": "1s", "at_least": 0.9},
                                                   {"window": "10s", "at_least": 0.9}]}).model_dump()
    cases = {c.get("name"): c for c in ET.fromstring(junit_xml([(s, check_slos(s, slo))])).iter("testcase")}
    failure = cases["worst_window[1s]"].find("failure")
    assert failure is not None and failure.get("message", "").startswith("worst_window[1s] 0.8000 < 0.9")
    assert cases["worst_window[10s]"].find("failure") is None
