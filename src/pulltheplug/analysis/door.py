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

from pulltheplug.records.events import DoorEvent, Event, of_type
from pulltheplug.records.model import RequestRecord


@dataclass(frozen=True, slots=True)
class DoorFigures:
    kind: str
    address: str
    node: str | None  # the faulted node
    down_bound: float | None  # the longest routing-around time the door's settings imply (see doors/)
    # the door stopped sending the node traffic: haproxy marked it down; vip: another node took the address
    routed_around_after_fault_start: float | None
    # the node back in the door: haproxy marked it up; vip: one holder again (see back_in)
    back_after_revert: float | None
    errors_after_fault_start: int  # requests not ok (fail or info: a timeout), due from the fault start on
    last_error_after_fault_start: float | None  # due time of the last of them: users saw errors until then
    # capacity restored: a task that had served nothing before the fault (a replacement Swarm scheduled)
    # answered through the door; None: none did (the lost task came back where it was, or never)
    new_task_served_after_fault_start: float | None = None


def routed_around_words(kind: str, node: str | None) -> str:
    """What "routed around" means for this door, for the reports."""
    if kind == "vip":
        return f"another node took the VIP from {node or 'the node'}"
    if kind == "service-dns":
        return f"Swarm's DNS stopped naming the task on {node or 'the node'}"
    return f"{kind} marked {node or 'the node'} down"


def _door_events(events: Sequence[Event], door: str, after: float) -> list[DoorEvent]:
    return [e for e in of_type(events, DoorEvent) if e.t >= after and e.door == door and e.backend]


def _addresses(e: DoorEvent) -> int:
    return len([a for a in (e.addresses or "").split(",") if a and a != "-"])


def _dns_count_before(events: Sequence[Event], kind: str, t: float) -> int | None:
    before = [e for e in _door_events(events, kind, 0.0) if e.t < t]
    return _addresses(before[-1]) if before else None


def routed_around(kind: str, events: Sequence[Event], node: str, after: float) -> float | None:
    """When the door stopped sending `node` traffic, after `after` (service-dns: the first answer of Swarm's
    DNS with fewer task addresses than before: the dead task forgotten)."""
    if kind == "service-dns":
        count = _dns_count_before(events, kind, after)
        return next((e.t for e in _door_events(events, kind, after)
                     if count is not None and _addresses(e) < count), None)
    for e in _door_events(events, kind, after):
        backend, state = e.backend, e.state
        if kind == "vip" and backend != node and state == "master":
            return e.t
        if kind != "vip" and backend == node and state == "down":
            return e.t
    return None


def back_in(kind: str, events: Sequence[Event], node: str, after: float,
            fault_start: float | None = None) -> float | None:
    """haproxy: the node marked up. vip: the group agrees on one holder again (a cut holder still claims
    the address on its dead link: once back, it or the new holder steps down to backup)."""
    if kind == "service-dns":  # the DNS answers as many tasks again as before the fault
        count = _dns_count_before(events, kind, fault_start if fault_start is not None else after)
        return next((e.t for e in _door_events(events, kind, after)
                     if count is not None and _addresses(e) >= count), None)
    for e in _door_events(events, kind, after):
        backend, state = e.backend, e.state
        if kind != "vip" and backend == node and state == "up":
            return e.t
        if kind == "vip" and state == "backup":
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
        at = routed_around(kind, events, node, fault_start)
        down = at - fault_start if at is not None else None
        if revert is not None:
            back = back_in(kind, events, node, max(revert, at if at is not None else revert), fault_start)
            up = back - revert if back is not None else None
    new_task = None
    if fault_start is not None:
        before = {r.task for r in requests if r.was_sent and r.outcome == "ok" and r.due < fault_start}
        new_task = next((r.due - fault_start for r in sorted(requests, key=lambda r: r.due)
                         if r.was_sent and r.outcome == "ok" and r.due >= fault_start and r.task
                         and r.task not in before), None)
    failed = [r.due for r in requests if r.was_sent and r.outcome != "ok"
              and fault_start is not None and r.due >= fault_start]
    return DoorFigures(
        kind=kind, address=str(door.get("address", "")), node=node,
        down_bound=float(bound) if isinstance(bound, int | float) else None,
        routed_around_after_fault_start=down, back_after_revert=up,
        errors_after_fault_start=len(failed),
        last_error_after_fault_start=max(failed) - fault_start if failed and fault_start is not None else None,
        new_task_served_after_fault_start=new_task,
    )
