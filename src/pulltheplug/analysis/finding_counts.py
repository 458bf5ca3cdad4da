"""Findings over a campaign: per scenario, how many of its runs found each rule, and for how long."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import median

from pulltheplug.analysis.findings import RULES, Finding


@dataclass(frozen=True, slots=True)
class FindingCount:
    """One rule over one scenario's runs: how many found it, how many could not tell, and the median length of
    what was found (end - start, over the findings that have both)."""

    found: int
    runs: int
    unknown: int
    median_s: float | None

    def words(self) -> str:
        median = "" if self.median_s is None else f", median {self.median_s:.1f} s"
        return f"{self.found}/{self.runs}{median}"


def finding_counts(results: Iterable[tuple[str, Sequence[Finding]]]) -> dict[str, dict[str, FindingCount]]:
    """`counts[scenario][rule]`, scenarios in the order they first appear, rules in RULES order."""
    by_scenario: dict[str, list[Sequence[Finding]]] = {}
    for scenario, fs in results:
        by_scenario.setdefault(scenario, []).append(fs)
    out: dict[str, dict[str, FindingCount]] = {}
    for scenario, runs in by_scenario.items():
        out[scenario] = {}
        for rule in RULES:
            answers = [f for fs in runs for f in fs if f.rule == rule]
            hits = [f for f in answers if f.found]
            lengths = [f.end - f.start for f in hits if f.start is not None and f.end is not None]
            out[scenario][rule] = FindingCount(len(hits), len(runs), sum(f.verdict == "unknown" for f in answers),
                                               median(lengths) if lengths else None)
    return out
