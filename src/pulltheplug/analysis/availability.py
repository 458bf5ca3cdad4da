"""Availability: the share of due requests that got an ok answer, overall and sliced."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from pulltheplug.analysis.phases import PHASES, Phases
from pulltheplug.naming import sorted_nodes
from pulltheplug.records.model import RequestRecord

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


def availability(requests: Sequence[RequestRecord], phases: Phases) -> Availability:
    """Every request record is due once; a request belongs to the phase of its due time."""
    entries = sorted_nodes({r.target for r in requests})
    due: Counter[tuple[str | None, str | None]] = Counter()
    ok: Counter[tuple[str | None, str | None]] = Counter()
    for r in requests:  # one pass; every request counts in its (entry, phase) and in the totals
        phase = phases.of(r.due)
        keys: list[tuple[str | None, str | None]] = [(r.target, phase), (r.target, None), (None, phase), (None, None)]
        if phase != "steady":
            keys.append((None, FAULTED))
        for key in keys:
            due[key] += 1
            ok[key] += r.outcome == "ok"

    def ratio(entry: str | None, phase: str | None) -> float | None:
        n = due[(entry, phase)]
        return ok[(entry, phase)] / n if n else None

    return Availability(
        overall=ratio(None, None),
        by_phase={p: ratio(None, p) for p in PHASES},
        by_entry={e: ratio(e, None) for e in entries},
        by_entry_phase={e: {p: ratio(e, p) for p in PHASES} for e in entries},
        faulted=ratio(None, FAULTED),
    )
