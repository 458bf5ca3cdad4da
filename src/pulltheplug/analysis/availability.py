"""Availability: the share of due requests that got an ok answer, overall and sliced."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from pulltheplug.analysis.phases import PHASES, Phases
from pulltheplug.record import RequestRecord


@dataclass(frozen=True, slots=True)
class Availability:
    """ok / due; None where no request was due (nothing to judge, not zero)."""

    overall: float | None
    by_phase: dict[str, float | None]
    by_entry: dict[str, float | None]
    by_entry_phase: dict[str, dict[str, float | None]]


def ok_ratio(requests: Iterable[RequestRecord]) -> float | None:
    due = ok = 0
    for r in requests:
        due += 1
        ok += r.outcome == "ok"
    return ok / due if due else None


def availability(requests: Sequence[RequestRecord], phases: Phases) -> Availability:
    """Every request record is due once; a request belongs to the phase of its due time."""
    entries = sorted({r.target for r in requests})

    def ratio(entry: str | None, phase: str | None) -> float | None:
        return ok_ratio(
            r for r in requests if (entry is None or r.target == entry) and (phase is None or phases.of(r.due) == phase)
        )

    return Availability(
        overall=ratio(None, None),
        by_phase={p: ratio(None, p) for p in PHASES},
        by_entry={e: ratio(e, None) for e in entries},
        by_entry_phase={e: {p: ratio(e, p) for p in PHASES} for e in entries},
    )
