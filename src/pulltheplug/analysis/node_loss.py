"""What "a node was lost" means, once, for every figure and rule (detection, flapping, never-detected, ...).

A node is lost when the view of a leader that a majority of managers agrees on reports it Down or
Disconnected. The observer already records node events only from that view (`observe.Observer.merge`
applies a manager's answer only while a majority of all managers answers and names the same leader; while
none does it records a control-plane window and no node event), so a node event's state is read as is.

Unknown is never a loss, and no return either: a newly elected leader reports every node Unknown until it
hears from it, so it says nothing of the node.
"""

from __future__ import annotations

from collections.abc import Sequence

from pulltheplug.records.events import Event, NodeEvent, of_type

LOST = frozenset({"down", "disconnected"})
BACK = frozenset({"ready"})


def is_lost(state: object) -> bool:
    return state in LOST


def is_back(state: object) -> bool:
    return state in BACK


def node_events(events: Sequence[Event], node: str) -> list[NodeEvent]:
    """The node's events, by time."""
    return [e for e in of_type(events, NodeEvent) if e.node == node]


def first_loss(events: Sequence[Event], node: str, after: float, until: float | None = None) -> NodeEvent | None:
    """The first event, strictly after `after` and at or before `until` (None: no bound), showing `node` lost."""
    for e in node_events(events, node):
        if e.t > after and (until is None or e.t <= until) and is_lost(e.state):
            return e
    return None


def first_return(events: Sequence[Event], node: str, after: float, until: float | None = None) -> NodeEvent | None:
    """The first event, strictly after `after` and at or before `until`, showing `node` Ready."""
    for e in node_events(events, node):
        if e.t > after and (until is None or e.t <= until) and is_back(e.state):
            return e
    return None
