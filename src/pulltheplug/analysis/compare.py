"""Scenarios compared: per metric and scenario, n, mean, a 95% confidence interval, min, max, raw values.

A metric a run never reached (never detected, never healthy again) is None there: it is counted as
missing, not averaged, since there is no number to average.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from statistics import fmean, stdev

from pulltheplug.analysis.summary import Summary

# Student t, two-sided 95% (the 0.975 quantile), for 1..30 degrees of freedom; beyond: the normal's 1.96.
T_975: tuple[float, ...] = (
    12.7062, 4.3027, 3.1824, 2.7764, 2.5706, 2.4469, 2.3646, 2.3060, 2.2622, 2.2281,
    2.2010, 2.1788, 2.1604, 2.1448, 2.1314, 2.1199, 2.1098, 2.1009, 2.0930, 2.0860,
    2.0796, 2.0739, 2.0687, 2.0639, 2.0595, 2.0555, 2.0518, 2.0484, 2.0452, 2.0423,
)  # fmt: skip
Z_975 = 1.96


def t_quantile(df: int) -> float:
    """The 97.5% quantile of Student's t with `df` degrees of freedom (df >= 1)."""
    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, not {df}")
    return T_975[df - 1] if df <= len(T_975) else Z_975


@dataclass(frozen=True, slots=True)
class Metric:
    """One number per run, read off its Summary; `unit` says how to show it: s, requests or ratio.

    `short` names it where space is tight (a terminal table column); `lower`/`upper` are the bounds the
    quantity cannot leave (no negative duration, no availability above 1), where its interval is cut.
    """

    key: str
    label: str
    unit: str
    value: Callable[[Summary], float | None]
    short: str = ""
    lower: float | None = 0.0
    upper: float | None = None

    def format(self, x: float | None) -> str:
        if x is None:
            return "-"
        if self.unit == "ratio":
            return f"{100 * x:.2f}%"
        if self.unit == "s":
            return f"{x:.2f}s"
        return f"{x:.1f}" if x != round(x) else f"{x:.0f}"


def _failed(s: Summary) -> float:
    return float(s.outcomes.fail + s.outcomes.info)


METRICS: tuple[Metric, ...] = (
    Metric("outage", "longest outage", "s", lambda s: s.longest_outage, "outage"),
    Metric("failed", "failed requests (fail + info)", "requests", _failed, "failed"),
    Metric("detect", "node lost (after fault start)", "s", lambda s: s.detect.node_lost_after_fault_start,
           "node lost after fault"),
    Metric("leader_change", "new leader (after fault start)", "s",
           lambda s: s.detect.leader_change_after_fault_start, "new leader after fault"),
    Metric("recover", "requests healthy (after fault start)", "s",
           lambda s: s.recover.requests_healthy_after_fault_start, "healthy after fault"),
    Metric("node_ready", "node Ready (after revert)", "s", lambda s: s.recover.node_ready_after_revert,
           "node Ready after revert"),
    Metric("availability", "availability", "ratio", lambda s: s.availability.overall, "availability", 0.0, 1.0),
)


@dataclass(frozen=True, slots=True)
class Stats:
    """Over the runs that have the metric; `ci95` is None with fewer than two values (no spread to know).

    mean ± half_width is the Student t interval; `ci95` is that interval cut to the metric's bounds.
    """

    n: int
    missing: int
    mean: float | None
    half_width: float | None
    ci95: tuple[float, float] | None
    min: float | None
    max: float | None
    values: tuple[float, ...]
    runs: tuple[str, ...]  # the run name of each value, same order


def describe(
    values: Sequence[float | None],
    runs: Sequence[str] | None = None,
    lower: float | None = None,
    upper: float | None = None,
) -> Stats:
    """Stats of one scenario's values (None: missing); `runs` names each value, if given.

    With few runs the t interval is wide and may reach past what the quantity can be: it is cut at
    `lower`/`upper` (a duration's interval stops at 0 s), so the mean is not always at its centre.
    """
    names = list(runs) if runs is not None else [""] * len(values)
    if len(names) != len(values):
        raise ValueError("runs must name every value")
    kept = [(float(v), r) for v, r in zip(values, names, strict=True) if v is not None]
    xs = tuple(v for v, _ in kept)
    n = len(xs)
    mean = fmean(xs) if xs else None
    half: float | None = None
    ci: tuple[float, float] | None = None
    if mean is not None and n >= 2:
        half = t_quantile(n - 1) * stdev(xs) / math.sqrt(n)
        lo, hi = mean - half, mean + half
        ci = (lo if lower is None else max(lo, lower), hi if upper is None else min(hi, upper))
    return Stats(
        n=n,
        missing=len(values) - n,
        mean=mean,
        half_width=half,
        ci95=ci,
        min=min(xs) if xs else None,
        max=max(xs) if xs else None,
        values=xs,
        runs=tuple(r for _, r in kept),
    )


@dataclass(frozen=True, slots=True)
class Comparison:
    """`stats[metric key][scenario]`; scenarios in the order they first appear."""

    scenarios: tuple[str, ...]
    metrics: tuple[Metric, ...]
    stats: dict[str, dict[str, Stats]]

    def metric(self, key: str) -> Metric:
        for m in self.metrics:
            if m.key == key:
                return m
        raise KeyError(key)


def compare(results: Iterable[tuple[str, Summary]], metrics: Sequence[Metric] = METRICS) -> Comparison:
    """Group the runs by scenario and describe each metric per scenario."""
    by_scenario: dict[str, list[Summary]] = {}
    for scenario, summary in results:
        by_scenario.setdefault(scenario, []).append(summary)
    stats = {
        m.key: {
            sc: describe([m.value(s) for s in summaries], [s.name for s in summaries], m.lower, m.upper)
            for sc, summaries in by_scenario.items()
        }
        for m in metrics
    }
    return Comparison(scenarios=tuple(by_scenario), metrics=tuple(metrics), stats=stats)
