"""When the fault started and was reverted, and which phase a moment belongs to.

One definition each, used by every figure: the fault starts at the "inject" event (the moment the fault
began to act) and is reverted at the "revert" event; Meta.phases, the runner's own account, stands in
when an event is missing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pulltheplug.records.events import Event, FaultEvent
from pulltheplug.records.model import Meta, RequestRecord

Phase = Literal["steady", "fault", "recovery"]
PHASES: tuple[Phase, ...] = ("steady", "fault", "recovery")


@dataclass(frozen=True, slots=True)
class Phases:
    """Phase edges in seconds since run start; `fault`/`revert` are None when they never happened."""

    steady: float
    fault: float | None
    revert: float | None
    end: float
    converged: float | None = None

    def of(self, t: float) -> Phase:
        """steady is [steady, fault), fault is [fault, revert), recovery is [revert, end]."""
        if self.fault is None or t < self.fault:
            return "steady"
        if self.revert is None or t < self.revert:
            return "fault"
        return "recovery"


def fault_action_time(events: Sequence[Event], action: str) -> float | None:
    """Time of the first fault event with this action ("inject", "revert", ...)."""
    times = [e.t for e in events if isinstance(e, FaultEvent) and e.action == action]
    return min(times) if times else None


def fault_start(meta: Meta, events: Sequence[Event]) -> float | None:
    """The fault "inject" event, else Meta.phases["fault"] (None: no fault)."""
    t = fault_action_time(events, "inject")
    return t if t is not None else meta.phases.get("fault")


def fault_revert(meta: Meta, events: Sequence[Event]) -> float | None:
    """The fault "revert" event, else Meta.phases["revert"] (None: never reverted). A schedule's recovery
    starts at the revert of its last fault, and only once every fault it injected was reverted."""
    steps = [e for e in events if isinstance(e, FaultEvent)]
    injected = {e.id for e in steps if e.action == "inject"}
    reverts = {e.id: e.t for e in steps if e.action == "revert"}
    if len(injected) > 1:
        return max(reverts.values()) if injected <= set(reverts) else None
    t = fault_action_time(events, "revert")
    return t if t is not None else meta.phases.get("revert")


def last_record_time(requests: Sequence[RequestRecord], events: Sequence[Event]) -> float:
    """The latest moment the history speaks of (0.0 for an empty history)."""
    return max([r.end for r in requests] + [e.t for e in events], default=0.0)


def phases_of(meta: Meta, requests: Sequence[RequestRecord], events: Sequence[Event]) -> Phases:
    p = meta.phases
    fault = fault_start(meta, events)
    revert = fault_revert(meta, events) if fault is not None else None
    end = p.get("end", last_record_time(requests, events))
    return Phases(steady=p.get("steady", 0.0), fault=fault, revert=revert, end=end, converged=p.get("converged"))
