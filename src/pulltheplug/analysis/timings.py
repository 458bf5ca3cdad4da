"""How long the cluster took to notice the fault, and to recover from it.

Each timing is a duration from the moment that caused it (the fault start or the revert, as defined in
`phases` and named in each field) to the first event showing the effect; None means the effect never
showed within the run. A node is lost as `node_loss` says (Down or Disconnected, never Unknown), and the
fault detected only if it is seen lost before the revert.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pulltheplug.analysis.node_loss import first_loss, first_return
from pulltheplug.analysis.outages import ALL, OutageWindow
from pulltheplug.records.events import Event, LeaderEvent, TaskEvent, of_type


@dataclass(frozen=True, slots=True)
class Detection:
    """Seconds from the fault start to the node seen lost (`node_loss`) during the fault, and to a new leader.

    A loss first seen after the revert is no detection: `node_lost_after_fault_start` is then None and
    `node_lost_after_revert` says how long after the revert it was seen (None: not seen then either).
    """

    node_lost_after_fault_start: float | None
    leader_change_after_fault_start: float | None
    node_lost_after_revert: float | None = None


@dataclass(frozen=True, slots=True)
class LastFailure:
    """A failed request by its number in the stream (`k`, as in requests.jsonl) and the entry it went to."""

    k: int
    entry: str


@dataclass(frozen=True, slots=True)
class Recovery:
    """Seconds: the node Ready from the revert; replicas and requests from the fault start (as named).

    `replicas_never_lost`: the running count never dropped, so there was nothing to recover
    (replicas_running_after_fault_start is then None).
    """

    node_ready_after_revert: float | None
    replicas_running_after_fault_start: float | None
    replicas_never_lost: bool
    requests_healthy_after_fault_start: float | None
    # the failed request that figure ends on (None when nothing failed after the fault start, or it never ended)
    requests_healthy_ends_on: LastFailure | None = None
    # failed requests left out as blips (outages of fewer than `analysis.recovery.ignore_below`; 0 by default)
    requests_ignored_as_blips: int = 0


def leader_at(events: Sequence[Event], t: float) -> str | None:
    """The leader as last seen at or before t (None if never seen)."""
    leader: str | None = None
    for e in of_type(events, LeaderEvent):
        if e.t > t:
            break
        leader = e.node
    return leader


def first_new_leader(events: Sequence[Event], after: float, until: float | None = None) -> float | None:
    """First leader event after `after` (and at or before `until`) naming a node other than the leader before it."""
    before = leader_at(events, after)
    if before is None:
        return None
    for e in of_type(events, LeaderEvent):
        node = e.node
        if e.t > after and (until is None or e.t <= until) and node is not None and node != before:
            return e.t
    return None


def _since(t: float | None, origin: float) -> float | None:
    return None if t is None else t - origin


def _earliest(*bounds: float | None) -> float | None:
    known = [b for b in bounds if b is not None]
    return min(known) if known else None


def time_to_detect(events: Sequence[Event], node: str | None, fault_start: float | None, revert: float | None = None,
                   *, until: float | None = None, leader_until: float | None = None) -> Detection:
    """The node counts as detected only if seen lost in (fault_start, revert] (to `until` if never reverted).

    `until`: where the history stops speaking of this fault's node (the next fault on it); `leader_until`: of the
    cluster (the next fault's start): a schedule puts each effect on the latest fault started before it.
    """
    if fault_start is None:
        return Detection(node_lost_after_fault_start=None, leader_change_after_fault_start=None)
    during = first_loss(events, node, fault_start, _earliest(revert, until)) if node else None
    late = (first_loss(events, node, revert, until)
            if node and during is None and revert is not None else None)
    return Detection(
        node_lost_after_fault_start=None if during is None else during.t - fault_start,
        leader_change_after_fault_start=_since(first_new_leader(events, fault_start, leader_until), fault_start),
        node_lost_after_revert=None if late is None or revert is None else late.t - revert,
    )


def running_counts(events: Sequence[Event]) -> list[tuple[float, int]]:
    """After each task event: how many tasks are running with desired state running."""
    tasks: dict[str, bool] = {}
    counts: list[tuple[float, int]] = []
    running = 0
    for e in of_type(events, TaskEvent):
        now = e.state == "running" and e.wanted_running
        running += int(now) - int(tasks.get(e.task, False))
        tasks[e.task] = now
        counts.append((e.t, running))
    return counts


def replicas_back(
    counts: Sequence[tuple[float, int]], fault_start: float, desired: int | None
) -> tuple[float | None, bool]:
    """(seconds until the running count is back to `desired` after dropping below it, never_lost).

    `desired` None: the count just before the fault start.
    """
    if desired is None:
        before = [c for t, c in counts if t <= fault_start]
        desired = before[-1] if before else 0
    dropped = False
    for t, c in counts:
        if t <= fault_start:
            continue
        if c < desired:
            dropped = True
        elif dropped:
            return t - fault_start, False
    return None, not dropped


@dataclass(frozen=True, slots=True)
class Healthy:
    after_fault_start: float | None
    ends_on: LastFailure | None
    ignored: int


def requests_healthy(windows: Sequence[OutageWindow], fault_start: float, ignore_below: int = 0) -> Healthy:
    """Until the end of the last per-entry outage overlapping or after the fault start, and the request it ends on.

    0.0 if no request failed after the fault start; None if that last outage was still open. Outages of fewer
    than `ignore_below` failed requests are left out only when asked (counted in `ignored`): by default every
    failure counts, so a stray blip long after the fault ends the figure there, and `ends_on` says so.
    """
    after = [w for w in windows if w.entry != ALL and w.end > fault_start]
    kept = [w for w in after if w.open or w.failed >= ignore_below]  # an outage still on at the end is no blip
    ignored = sum(w.failed for w in after if w not in kept)
    if not kept:
        return Healthy(0.0, None, ignored)
    if any(w.open for w in kept):
        return Healthy(None, None, ignored)
    last = max(kept, key=lambda w: (w.end, w.last_k))
    return Healthy(last.end - fault_start, LastFailure(last.last_k, last.entry), ignored)


def healthy_words(rec: Recovery) -> str:
    """What the requests-healthy figure rests on, for a reader: the request it ends on and the blips left out."""
    said = []
    if rec.requests_healthy_ends_on is not None:
        said.append(f"ends on request {rec.requests_healthy_ends_on.k} to {rec.requests_healthy_ends_on.entry}")
    elif rec.requests_healthy_after_fault_start == 0.0:
        said.append("no request failed after the fault start" if not rec.requests_ignored_as_blips
                    else "no outage but blips after the fault start")
    if rec.requests_ignored_as_blips:
        said.append(f"{rec.requests_ignored_as_blips} failed request(s) left out as blips (ignore_below)")
    return "; ".join(said)


def time_to_recover(
    events: Sequence[Event],
    windows: Sequence[OutageWindow],
    fault: Mapping[str, Any],
    fault_start: float | None,
    revert: float | None,
    desired: int | None,
    *,
    until: float | None = None,
    cluster_until: float | None = None,
    ignore_below: int = 0,
) -> Recovery:
    """`fault` is Meta.fault (its "node"); `desired` is the replica count, None to take it from the tasks.

    `until` and `cluster_until` bound what is put on this fault, as in `time_to_detect`; `ignore_below` is
    `analysis.recovery.ignore_below` (see `requests_healthy`).
    """
    if fault_start is None:
        return Recovery(node_ready_after_revert=None, replicas_running_after_fault_start=None,
                        replicas_never_lost=True, requests_healthy_after_fault_start=None)
    node = fault.get("node")
    back = first_return(events, node, revert, until) if node and revert is not None else None
    ready = None if back is None else back.t
    counts = running_counts(events)
    if cluster_until is not None:
        counts = [(t, c) for t, c in counts if t <= cluster_until]
        windows = [w for w in windows if w.start <= cluster_until]
    replicas, never_lost = replicas_back(counts, fault_start, desired)
    healthy = requests_healthy(windows, fault_start, ignore_below)
    return Recovery(
        node_ready_after_revert=None if revert is None else _since(ready, revert),
        replicas_running_after_fault_start=replicas,
        replicas_never_lost=never_lost,
        requests_healthy_after_fault_start=healthy.after_fault_start,
        requests_healthy_ends_on=healthy.ends_on,
        requests_ignored_as_blips=healthy.ignored,
    )
