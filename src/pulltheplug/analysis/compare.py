"""Scenarios compared: per metric and scenario, n, mean, a 95% confidence interval, min, max, raw values.

A metric a run never reached (never detected, never healthy again) is None there: it is counted as
missing, not averaged, since there is no number to average.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from statistics import fmean, stdev

from pulltheplug.analysis.intervals import FaultInterval
from pulltheplug.analysis.summary import Summary
from pulltheplug.analysis.windowed import worst_of


def t_quantile(df: int) -> float:
    """The 97.5% quantile of Student's t with `df` degrees of freedom (df >= 1): the two-sided 95% interval.

    scipy's (`stdtrit` is what `scipy.stats.t.ppf` calls), exact for every df; a table cut at df 30 with the
    normal's 1.96 beyond made the intervals of 31 to 100 runs too narrow.
    """
    from scipy.special import stdtrit  # here, not at the top: it costs every CLI command 0.5 s to load

    if df < 1:
        raise ValueError(f"degrees of freedom must be >= 1, not {df}")
    return float(stdtrit(df, 0.975))


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


def _worst(window_s: float) -> Callable[[Summary], float | None]:
    """The worst window of that size (None: no window judged, or a summary made before windows)."""

    def worst(s: Summary) -> float | None:
        figure = worst_of(s.windowed_availability, window_s)
        return figure.worst if figure is not None else None

    return worst


def _error_seconds(s: Summary) -> float | None:
    return float(s.error_seconds) if s.error_seconds is not None else None


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
    Metric("worst_1s", "worst 1 s window availability", "ratio", _worst(1.0), "worst 1s", 0.0, 1.0),
    Metric("worst_10s", "worst 10 s window availability", "ratio", _worst(10.0), "worst 10s", 0.0, 1.0),
    Metric("error_seconds", "error seconds (1 s bins with a failure)", "seconds", _error_seconds, "error s"),
    Metric("routed", "door routed around the node (after fault start)", "s",
           lambda s: s.door.routed_around_after_fault_start if s.door else None, "door routed around"),
    Metric("last_error", "last failed request (after fault start)", "s",
           lambda s: s.door.last_error_after_fault_start if s.door else None, "last error"),
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


@dataclass(frozen=True, slots=True)
class FaultMetric:
    """One duration per fault (each fault of a schedule, the one of a single-fault run), off its FaultInterval."""

    key: str
    label: str
    value: Callable[[FaultInterval], float | None]
    unit: str = "s"

    def format(self, x: float | None) -> str:
        return "-" if x is None else f"{x:.2f}s"


FAULT_METRICS: tuple[FaultMetric, ...] = (
    FaultMetric("detect", "node lost during the fault, after fault start",
                lambda f: f.detect.node_lost_after_fault_start if f.detect else None),
    FaultMetric("node_ready", "node Ready, after revert",
                lambda f: f.recover.node_ready_after_revert if f.recover else None),
    FaultMetric("leader_change", "new leader, after fault start",
                lambda f: f.detect.leader_change_after_fault_start if f.detect else None),
)


@dataclass(frozen=True, slots=True)
class FaultComparison:
    """`stats[metric key][kind@target]` over every fault of every run, labels in the order they first appear;
    `schedules`: some run had several faults (else this only repeats the scenarios' own figures)."""

    labels: tuple[str, ...]
    metrics: tuple[FaultMetric, ...]
    stats: dict[str, dict[str, Stats]]
    schedules: bool


def compare_faults(results: Iterable[tuple[str, Summary]],
                   metrics: Sequence[FaultMetric] = FAULT_METRICS) -> FaultComparison:
    """Group every fault by kind@target across the runs (a summary written before faults had figures adds none)."""
    by_label: dict[str, list[tuple[str, FaultInterval]]] = {}
    schedules = False
    for _, summary in results:
        schedules = schedules or len(summary.faults) > 1
        for f in summary.faults:
            if f.detect is not None:
                by_label.setdefault(f.label, []).append((f"{summary.name} #{f.id + 1}", f))
    stats = {m.key: {label: describe([m.value(f) for _, f in faults], [name for name, _ in faults], 0.0)
                     for label, faults in by_label.items()} for m in metrics}
    return FaultComparison(tuple(by_label), tuple(metrics), stats, schedules)


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
