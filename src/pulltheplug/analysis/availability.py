"""Availability: the share of due requests that got an ok answer, overall and sliced."""

from __future__ import annotations

from dataclasses import dataclass

FAULTED = "fault_and_recovery"  # the fault and recovery phases together


@dataclass(frozen=True, slots=True)
class Availability:
    """ok / due; None where no request was due (nothing to judge, not zero).

    `faulted`: over the fault and recovery phases together (every request due from the fault start on), what the
    availability SLO judges by default: a long steady phase before the fault must not dilute it.
    """

    overall: float | None
    by_phase: dict[str, float | None]
    by_entry: dict[str, float | None]
    by_entry_phase: dict[str, dict[str, float | None]]
    faulted: float | None = None  # None in summaries made before it, and where no fault started


