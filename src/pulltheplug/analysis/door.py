"""What users behind a front door felt, and how fast the door routed around the faulted node.

Behind a load balancer, a dead node's share of requests fails only until the door stops sending it any:
failures come interleaved with ok answers, so windows of consecutive failures are tiny. The door's figures
are therefore the door's own view (when it marked the node down, and up again) and the error window (the
last failed request after the fault start), each from the moment named in the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pulltheplug.record import Event, RequestRecord


@dataclass(frozen=True, slots=True)
class DoorFigures:
    kind: str
    address: str
    node: str | None  # the faulted node
    down_bound: float | None  # the longest marking-down time the door's settings imply (see doors.haproxy)
    marked_down_after_fault_start: float | None  # the door stopped sending the node traffic
    marked_up_after_revert: float | None  # the door sent it traffic again
    errors_after_fault_start: int  # requests not ok (fail or info: a timeout), due from the fault start on
    last_error_after_fault_start: float | None  # due time of the last of them: users saw errors until then


def _first_state(events: Sequence[Event], door: str, node: str, states: frozenset[str], after: float) -> float | None:
    for e in sorted(events, key=lambda e: e.t):
        if (e.type == "door" and e.t >= after and e.data.get("door") == door and e.data.get("backend") == node
                and e.data.get("state") in states):
            return e.t
    return None


def door_figures(door: dict[str, Any], node: str | None, fault_start: float | None, revert: float | None,
                 requests: Sequence[RequestRecord], events: Sequence[Event]) -> DoorFigures | None:
    """None without a door (entry nodes)."""
    if not door:
        return None
    kind = str(door.get("kind", ""))
    bound = door.get("down_bound")
    down = up = None
    if node is not None and fault_start is not None:
        at = _first_state(events, kind, node, frozenset({"down"}), fault_start)
        down = at - fault_start if at is not None else None
        if revert is not None and at is not None:
            back = _first_state(events, kind, node, frozenset({"up"}), max(revert, at))
            up = back - revert if back is not None else None
    failed = [r.due for r in requests if r.was_sent and r.outcome != "ok"
              and fault_start is not None and r.due >= fault_start]
    return DoorFigures(
        kind=kind, address=str(door.get("address", "")), node=node,
        down_bound=float(bound) if isinstance(bound, int | float) else None,
        marked_down_after_fault_start=down, marked_up_after_revert=up,
        errors_after_fault_start=len(failed),
        last_error_after_fault_start=max(failed) - fault_start if failed and fault_start is not None else None,
    )
