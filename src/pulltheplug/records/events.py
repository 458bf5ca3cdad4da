"""A run's events, one model per type: what changed (a node, the leader, a task, the control plane, a fault,
a phase, the run), when, and the event's own id.

Every event is written on a change, and once at the first observation, as one line of `events.jsonl`:
`{"t", "seq", "type", **fields}` (a field that is None is left out, unless None says something: no leader).
`t` is when the change happened as far as the records date it, which may be before the event was written (a
silence dates from its first unanswered poll): readers sort events by `t`. `seq` is the event's id, unique in
its run: 1, 2, ... in the order written (findings and reports cite events by it). Run folders written before
events had ids read with `seq` = their line number, which is what findings cited then.

Keys a model does not know (written by another version) are kept in `extra` and written back unchanged; an
unknown type reads as `OtherEvent`.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeVar

log = logging.getLogger(__name__)

E = TypeVar("E", bound="Event")


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """What every event has: its time on the run clock, its id, and keys this version does not know."""

    TYPE: ClassVar[str] = ""
    NULLS: ClassVar[tuple[str, ...]] = ()  # fields written even when None (None says something: no leader)
    t: float
    seq: int = 0  # 0: not written yet (the run folder's writer numbers it)
    extra: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def type(self) -> str:
        return self.TYPE

    @property
    def data(self) -> dict[str, Any]:
        """The type's fields as written (None left out), and the unknown keys."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name in _BASE:
                continue
            value = getattr(self, f.name)
            if value is not None or f.name in self.NULLS:
                out[f.name] = list(value) if isinstance(value, tuple) else value
        return {**out, **self.extra}


_BASE = frozenset({"t", "seq", "extra"})


@dataclass(frozen=True, slots=True, kw_only=True)
class PhaseEvent(Event):
    """A phase starts."""

    TYPE: ClassVar[str] = "phase"
    phase: str  # steady | fault | recovery | end


@dataclass(frozen=True, slots=True, kw_only=True)
class FaultEvent(Event):
    """A step of one fault: "inject"/"revert" just before acting, "injected"/"reverted" once done, with evidence
    it took effect. `id` is the fault's number in its schedule (0 for a run's one fault)."""

    TYPE: ClassVar[str] = "fault"
    action: str  # inject | injected | revert | reverted
    id: int = 0
    kind: str = ""
    node: str = ""
    nodes: tuple[str, ...] = ()  # every node the fault touches (read as (node,) where older records lack it)
    evidence: dict[str, Any] | None = None
    deadman: Any = None  # what was armed to revert the fault if the controller dies

    @property
    def touched(self) -> tuple[str, ...]:
        return self.nodes or ((self.node,) if self.node else ())


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeEvent(Event):
    """A node as the swarm's managers see it."""

    TYPE: ClassVar[str] = "node"
    node: str
    state: str = "unknown"  # ready | down | unknown | disconnected
    availability: str = ""
    role: str = ""
    manager: str = ""  # leader | reachable | unreachable | "" (a worker)


@dataclass(frozen=True, slots=True, kw_only=True)
class LeaderEvent(Event):
    """The swarm's leader changed; None: no leader known."""

    TYPE: ClassVar[str] = "leader"
    NULLS: ClassVar[tuple[str, ...]] = ("node", "previous")
    node: str | None = None
    previous: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskEvent(Event):
    """A task of the service changed its state or node."""

    TYPE: ClassVar[str] = "task"
    task: str
    service: str = ""
    slot: int | None = None
    node: str = ""
    state: str = ""  # running | pending | assigned | shutdown | failed | ...
    desired: str = ""

    @property
    def wanted_running(self) -> bool:
        return self.desired == "running"


@dataclass(frozen=True, slots=True, kw_only=True)
class ControlPlaneEvent(Event):
    """The control plane became available (a majority of all managers answer and name the same leader) or
    not; `manager` is the one the observer reads, `error` why it is unavailable."""

    TYPE: ClassVar[str] = "control_plane"
    NULLS: ClassVar[tuple[str, ...]] = ("manager",)
    available: bool
    manager: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ManagerEvent(Event):
    """One manager started or stopped answering, on its own (silent from its first unanswered poll)."""

    TYPE: ClassVar[str] = "manager"
    manager: str
    answering: bool
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ObserverEvent(Event):
    """The manager the observer asks now (after a failover), or an error of the observation itself."""

    TYPE: ClassVar[str] = "observer"
    manager: str | None = None
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class RunEvent(Event):
    """The run started, ended or was interrupted (or failed)."""

    TYPE: ClassVar[str] = "run"
    action: str  # start | end | interrupted | failed


@dataclass(frozen=True, slots=True, kw_only=True)
class DoorEvent(Event):
    """A front door's own view of one node (`backend`), on every change; or, with no backend, the door itself
    silent (`state` "silent", `error`)."""

    TYPE: ClassVar[str] = "door"
    door: str
    state: str  # up | going_down | down | going_up | ... | answer (service DNS) | silent
    backend: str | None = None
    check: str | None = None  # HAProxy's last check status
    addresses: str | None = None  # service DNS: the addresses answered, comma-separated ("-": none)
    error: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SessionEvent(Event):
    """The backend's own link to a host (SSH) died (keepalives unanswered) or was opened again."""

    TYPE: ClassVar[str] = "session"
    host: str
    state: str  # lost | back
    reason: str = ""


@dataclass(frozen=True, slots=True, kw_only=True)
class OtherEvent(Event):
    """An event of a type this version does not know: read, kept and written back, judged by no rule."""

    name: str

    @property
    def type(self) -> str:
        return self.name

    @property
    def data(self) -> dict[str, Any]:
        return dict(self.extra)


MODELS: dict[str, type[Event]] = {m.TYPE: m for m in (
    PhaseEvent, FaultEvent, NodeEvent, LeaderEvent, TaskEvent, ControlPlaneEvent, ManagerEvent, ObserverEvent,
    RunEvent, DoorEvent, SessionEvent)}
_FIELDS = {name: {f.name for f in dataclasses.fields(m)} - _BASE for name, m in MODELS.items()}


def event(t: float, type: str, data: dict[str, Any] | None = None, seq: int = 0) -> Event:
    """The model of one event from its type and fields, as written (a cluster backend's `watch` hears them so)."""
    data = dict(data or {})
    model = MODELS.get(type)
    if model is None:
        return OtherEvent(t=t, seq=seq, name=type, extra=data)
    known = _FIELDS[type]
    fields = {k: v for k, v in data.items() if k in known}
    extra = {k: v for k, v in data.items() if k not in known}
    if "nodes" in fields:
        fields["nodes"] = tuple(str(n) for n in fields["nodes"] or ())
    try:
        return model(t=t, seq=seq, extra=extra, **fields)
    except TypeError as exc:  # a required field missing: kept, judged by no rule
        log.debug("a %s event without its fields (%s) read as an unknown event", type, exc)
        return OtherEvent(t=t, seq=seq, name=type, extra=data)


def event_from_dict(d: dict[str, Any], line: int = 0) -> Event:
    """One line of events.jsonl; `line` is the event's id where the line has none (folders written before)."""
    d = dict(d)
    t = float(d.pop("t"))
    kind = str(d.pop("type"))
    seq = d.pop("seq", None)
    return event(t, kind, d, int(seq) if isinstance(seq, int) else line)


def event_to_dict(e: Event) -> dict[str, Any]:
    return {"t": round(e.t, 6), "seq": e.seq, "type": e.type, **e.data}


def of_type(events: Iterable[Event], model: type[E]) -> list[E]:
    """The events of one model, by time (stable: events of one moment stay in the order written)."""
    return sorted((e for e in events if isinstance(e, model)), key=lambda e: e.t)


def numbered(events: Iterable[Event]) -> list[Event]:
    """The events with ids as a run folder's writer gives them (1, 2, ... in this order), where they have none."""
    return [e if e.seq else dataclasses.replace(e, seq=i) for i, e in enumerate(events, start=1)]
