"""compare(): per scenario and metric, n, mean, Student-t 95% interval, min, max; None counted as missing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from pulltheplug.analysis import Summary, summarize
from pulltheplug.analysis.compare import METRICS, Metric, compare, describe, t_quantile
from tests.analysis.history import failing, node, run, stream
from tests.analysis.test_windowed import round_robin_door

# Student t, 0.975 quantile, df 1..39 (n = 2..40 runs), from the published tables (4 decimals)
T_975_PUBLISHED = (
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
    2.0395, 2.0369, 2.0345, 2.0322, 2.0301, 2.0281, 2.0262, 2.0244, 2.0227,
)  # fmt: skip


@pytest.mark.parametrize("n", range(2, 41))
def test_t_quantile_is_exact_for_every_number_of_runs(n: int) -> None:
    assert t_quantile(n - 1) == pytest.approx(T_975_PUBLISHED[n - 2], abs=5e-5)


def test_t_quantile_far_out_tends_to_the_normal() -> None:
    assert t_quantile(60) == pytest.approx(2.0003, abs=5e-5)
    assert t_quantile(120) == pytest.approx(1.9799, abs=5e-5)
    assert t_quantile(100_000) == pytest.approx(1.9600, abs=5e-5)
    with pytest.raises(ValueError):
        t_quantile(0)


def test_describe_known_numbers() -> None:
    s = describe([1.0, 2.0, 3.0, 4.0, 5.0], ["a", "b", "c", "d", "e"])
    # sd = sqrt(2.5), se = sd / sqrt(5) = 0.70711, t(4) = 2.7764: half width 1.9632
    assert (s.n, s.missing, s.mean, s.min, s.max) == (5, 0, 3.0, 1.0, 5.0)
    assert s.ci95 == pytest.approx((3.0 - 1.9632, 3.0 + 1.9632), abs=1e-3)
    assert s.half_width == pytest.approx(1.9632, abs=1e-3)
    assert s.values == (1.0, 2.0, 3.0, 4.0, 5.0) and s.runs == ("a", "b", "c", "d", "e")


def test_missing_values_are_counted_not_averaged() -> None:
    s = describe([2.0, None, 4.0], ["a", "b", "c"])
    assert (s.n, s.missing, s.mean) == (2, 1, 3.0)
    # sd = sqrt(2), se = 1: the half width is t(1) itself
    assert s.half_width == pytest.approx(12.7062, abs=1e-4)
    assert s.runs == ("a", "c")


def test_one_value_has_no_interval_and_none_has_no_mean() -> None:
    one = describe([7.5])
    assert (one.n, one.mean, one.ci95, one.min, one.max) == (1, 7.5, None, 7.5, 7.5)
    assert one.half_width is None
    none = describe([None, None])
    assert (none.n, none.missing, none.mean, none.ci95, none.min, none.max, none.values) == (
        0, 2, None, None, None, None, ())
    same = describe([3.0, 3.0, 3.0])
    assert same.ci95 == (3.0, 3.0)


def test_interval_is_cut_at_the_bounds_of_the_quantity() -> None:
    s = describe([1.0, 3.0], lower=0.0)  # mean 2, half width t(1) = 12.7062
    assert s.half_width == pytest.approx(12.7062, abs=1e-4)
    assert s.ci95 == pytest.approx((0.0, 2.0 + 12.7062), abs=1e-4)
    ratio = describe([0.9, 1.0], lower=0.0, upper=1.0)  # mean 0.95, half width 12.7062 * 0.05
    assert ratio.ci95 == pytest.approx((0.95 - 0.6353, 1.0), abs=1e-4)


def test_describe_rejects_unnamed_values() -> None:
    with pytest.raises(ValueError):
        describe([1.0, 2.0], ["a"])


def _summary(outage: float, detect_after: float | None) -> Summary:
    """node3 fails for `outage` s from 12 s (fault at 10 s); the node is seen down `detect_after` s after it."""
    requests = stream(300.0, 30.0, fail=failing("node3", 12.0, 12.0 + outage))
    events = [node(10.0 + detect_after, "node3", "down")] if detect_after is not None else []
    return summarize(run(requests, events))


def test_compare_groups_by_scenario_in_first_seen_order() -> None:
    results = [
        ("nic-down@leader", _summary(2.0, 1.0)),
        ("reboot@leader", _summary(5.0, None)),
        ("nic-down@leader", _summary(4.0, 3.0)),
        ("reboot@leader", _summary(7.0, 2.0)),
    ]
    c = compare(results)
    assert c.scenarios == ("nic-down@leader", "reboot@leader")
    assert [m.key for m in c.metrics] == [m.key for m in METRICS]

    outage = c.stats["outage"]
    assert outage["nic-down@leader"].mean == pytest.approx(3.0, abs=0.02)
    assert outage["reboot@leader"].mean == pytest.approx(6.0, abs=0.02)
    assert outage["reboot@leader"].min == pytest.approx(5.0, abs=0.02)
    # two values 1 s either side of the mean: sd = sqrt(2), se = 1, half width t(1)
    assert outage["reboot@leader"].half_width == pytest.approx(12.7062, abs=0.05)
    assert outage["reboot@leader"].ci95 is not None and outage["reboot@leader"].ci95[0] == 0.0  # no negative outage

    failed = c.stats["failed"]["nic-down@leader"]  # node3 gets 100 requests a second
    assert failed.values == (200.0, 400.0)

    detect = c.stats["detect"]
    assert detect["nic-down@leader"].mean == pytest.approx(2.0)
    assert (detect["reboot@leader"].n, detect["reboot@leader"].missing) == (1, 1)
    assert detect["reboot@leader"].ci95 is None

    avail = c.stats["availability"]["nic-down@leader"]
    assert avail.mean == pytest.approx(1 - 300 / 9000, abs=1e-3)


def test_metric_formats_by_unit() -> None:
    seconds, count, ratio = (Metric("a", "a", u, lambda s: None) for u in ("s", "requests", "ratio"))
    assert seconds.format(1.234) == "1.23s"
    assert count.format(12.0) == "12" and count.format(12.5) == "12.5"
    assert ratio.format(0.98765) == "98.77%"
    assert seconds.format(None) == "-"


def test_the_worst_windows_and_error_seconds_are_compared_and_missing_in_older_summaries() -> None:
    door = summarize(run(round_robin_door()))
    older = replace(door, windowed_availability=[], error_seconds=None)
    c = compare([("haproxy", door), ("haproxy", older)])
    assert c.stats["worst_1s"]["haproxy"].values == pytest.approx((0.8,))
    assert c.stats["worst_10s"]["haproxy"].values == pytest.approx((0.93,))
    assert c.stats["error_seconds"]["haproxy"].values == (4.0,)
    assert c.stats["worst_1s"]["haproxy"].missing == 1
    assert c.metric("worst_1s").format(0.8) == "80.00%" and c.metric("error_seconds").format(4.0) == "4"
