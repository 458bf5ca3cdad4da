"""What a run looks like right now, folded from its records as they are written (pure: no I/O).

The live page, the metrics endpoint and `report --format openmetrics` all read the run through one
`LiveState`: records go in one at a time (as the JSON lines of `requests.jsonl` and `events.jsonl`), and
the state answers what a watcher asks at a moment `now` on the run clock: totals, the last second's
rates, the outage still open, each node's state, the leader, the phase and its countdown, and the
request bins of the report's timeline.
"""

from __future__ import annotations

import bisect
import math
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from pulltheplug.analysis.percentile import nearest_rank
from pulltheplug.live.windows import LiveWindows
from pulltheplug.naming import node_sort_key
from pulltheplug.records.events import (
    ControlPlaneEvent,
    DoorEvent,
    Event,
    FaultEvent,
    LeaderEvent,
    NodeEvent,
    PhaseEvent,
    TaskEvent,
    event_from_dict,
)
from pulltheplug.records.model import NOT_SENT, Meta

BIN_WIDTH = 0.1  # the report timeline's bin (report/timeline.py): the live page draws the same bars
# The latency histogram's upper bounds, seconds (the Prometheus client's defaults, widened to 30 s timeouts)
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
OUTCOMES = ("ok", "fail", "info")
_EPS = 1e-9


@dataclass
class OpenOutage:
    """One entry's outage still under way: failures due after the last ok, none answered since.

    Requests finish out of order, so an ok only ends the failures due before it; one due after it
    still holds the outage open from its own due time.
    """

    last_ok_due: float = -math.inf
    failures: list[float] = field(default_factory=list)  # due times after the last ok, sorted

    def add(self, due: float, ok: bool) -> None:
        if ok:
            if due > self.last_ok_due:
                self.last_ok_due = due
                del self.failures[:bisect.bisect_right(self.failures, due)]
        elif due > self.last_ok_due:
            bisect.insort(self.failures, due)

    @property
    def since(self) -> float | None:
        return self.failures[0] if self.failures else None

    def length(self, now: float) -> float | None:
        return None if not self.failures else max(now - self.failures[0], 0.0)


def longest_open(outages: dict[str, OpenOutage], now: float) -> tuple[str, float] | None:
    """The entry whose outage, still open now, has lasted longest, and for how long."""
    open_ = [(length, name) for name, o in outages.items() if (length := o.length(now)) is not None]
    if not open_:
        return None
    length, name = max(open_)
    return name, length


def running_per_node(tasks: Iterable[dict[str, Any]]) -> dict[str, int]:
    """Node -> tasks running and meant to run (a task being shut down is not counted)."""
    return dict(Counter(str(t.get("node") or "") for t in tasks
                        if t.get("state") == "running" and t.get("desired") == "running"))


@dataclass
class EntryTotals:
    """One entry's requests so far: outcomes, error kinds, and ok latency as histogram buckets."""

    outcomes: Counter[str] = field(default_factory=Counter)  # ok | fail | info | not_sent
    errors: Counter[str] = field(default_factory=Counter)
    buckets: list[int] = field(default_factory=lambda: [0] * len(LATENCY_BUCKETS))  # per bucket, not cumulative
    latency_sum: float = 0.0
    outage: OpenOutage = field(default_factory=OpenOutage)

    def cumulative(self) -> list[int]:
        out, total = [], 0
        for n in self.buckets:
            total += n
            out.append(total)
        return out


@dataclass
class NodeNow:
    state: str = "unknown"
    role: str = ""
    manager: str = ""
    availability: str = ""


@dataclass
class FaultNow:
    kind: str
    node: str
    nodes: list[str]
    state: str  # inject | injected | revert | reverted
    since: float


class RecentRates:
    """Requests finished in the last second, by outcome: what users feel now, not since the start."""

    def __init__(self, window: float = 1.0) -> None:
        self.window = window
        self._ends: deque[tuple[float, str]] = deque()

    def add(self, end: float, outcome: str) -> None:
        self._ends.append((end, outcome))

    def at(self, now: float) -> dict[str, int]:
        while self._ends and self._ends[0][0] <= now - self.window:
            self._ends.popleft()
        counts = Counter(o for t, o in self._ends if t <= now)
        return {o: counts[o] for o in OUTCOMES}


class LiveBins:
    """The timeline's requests per 100 ms by due time, grown as records come (late ones land in old bins)."""

    def __init__(self, width: float = BIN_WIDTH) -> None:
        self.width = width
        self.counts: dict[str, list[int]] = {o: [] for o in OUTCOMES}
        self.latencies: list[list[float]] = []  # ms, ok requests
        self._quantiles: dict[int, tuple[float | None, float | None]] = {}  # bin -> (p50, p99), until it changes

    def _grow(self, n: int) -> None:
        while len(self.latencies) < n:
            for o in OUTCOMES:
                self.counts[o].append(0)
            self.latencies.append([])

    def add(self, due: float, outcome: str, latency_ms: float) -> None:
        i = max(math.floor(due / self.width + _EPS), 0)
        self._grow(i + 1)
        self.counts[outcome][i] += 1
        if outcome == "ok":
            self.latencies[i].append(latency_ms)
            self._quantiles.pop(i, None)

    def cover(self, end: float) -> None:
        """Bins up to `end`, empty or not: the axis grows with the run's clock."""
        self._grow(max(math.ceil(end / self.width - _EPS), 0))

    def quantiles(self) -> tuple[list[float | None], list[float | None]]:
        p50: list[float | None] = []
        p99: list[float | None] = []
        for i, values in enumerate(self.latencies):
            if i not in self._quantiles:
                s = sorted(values)
                self._quantiles[i] = (nearest_rank(s, 50), nearest_rank(s, 99)) if s else (None, None)
            a, b = self._quantiles[i]
            p50.append(a)
            p99.append(b)
        return p50, p99


@dataclass(frozen=True)
class PhaseNow:
    name: str  # starting | steady | fault | recovery | end
    since: float
    left: float | None  # seconds to the phase's planned end (recovery: to its timeout); None: unknown


class LiveState:
    """A run folded from its records; `meta` is the run's meta.json as last read."""

    def __init__(self, meta: Meta | None = None, width: float = BIN_WIDTH, timeline: bool = True) -> None:
        self.meta = meta
        self.timeline = timeline  # keep the request bins (and each ok latency) for the live page's timeline
        self.entries: dict[str, EntryTotals] = {}
        self.recent = RecentRates()
        self.bins = LiveBins(width)
        self.windows = LiveWindows()  # the worst 1 s window and error seconds so far
        self.events: list[Event] = []
        self.nodes: dict[str, NodeNow] = {}
        self.leader: str | None = None
        self.control_plane: bool | None = None
        self.tasks: dict[str, dict[str, Any]] = {}  # id -> node, state, desired
        self.faults: dict[int, FaultNow] = {}
        self.door: dict[str, str] = {}  # backend node -> the front door's view of it (up, down, ...)
        self.door_silent: str | None = None  # why the door does not answer, while it does not
        self.phase = PhaseNow("starting", 0.0, None)
        self.last_t = 0.0  # the newest time any record names
        self.requests = 0

    def entry(self, name: str) -> EntryTotals:
        if name not in self.entries:
            self.entries[name] = EntryTotals()
        return self.entries[name]

    def add_request(self, d: dict[str, Any]) -> None:
        """One line of requests.jsonl."""
        self.requests += 1
        e = self.entry(str(d["target"]))
        due, end = float(d["due"]), float(d["end"])
        self.last_t = max(self.last_t, end)
        if d.get("sent") is None:
            e.outcomes[NOT_SENT] += 1
            return
        outcome = str(d["outcome"])
        e.outcomes[outcome] += 1
        if d.get("error"):
            e.errors[str(d["error"])] += 1
        latency = end - due
        if outcome == "ok":
            e.latency_sum += latency
            for i, bound in enumerate(LATENCY_BUCKETS):
                if latency <= bound:
                    e.buckets[i] += 1
                    break
        e.outage.add(due, outcome == "ok")
        self.windows.add(due, outcome == "ok")
        self.recent.add(end, outcome)
        if self.timeline:
            self.bins.add(due, outcome, latency * 1000.0)

    def add_event(self, d: dict[str, Any]) -> None:
        """One line of events.jsonl."""
        e = event_from_dict(d, len(self.events) + 1)
        self.events.append(e)
        self.last_t = max(self.last_t, e.t)
        if isinstance(e, NodeEvent):
            self.nodes[e.node] = NodeNow(e.state, e.role, e.manager, e.availability)
        elif isinstance(e, LeaderEvent):
            self.leader = e.node or None
        elif isinstance(e, ControlPlaneEvent):
            self.control_plane = e.available
        elif isinstance(e, TaskEvent):
            self.tasks[e.task] = {"node": e.node, "state": e.state, "desired": e.desired}
        elif isinstance(e, FaultEvent):
            self.faults[e.id] = FaultNow(e.kind, e.node, list(e.touched), e.action, e.t)
        elif isinstance(e, DoorEvent):
            if e.backend is not None:
                self.door[e.backend] = e.state
                self.door_silent = None
            else:
                self.door_silent = (e.error or e.state) if e.state == "silent" else None
        elif isinstance(e, PhaseEvent):
            self.phase = PhaseNow(e.phase, e.t, None)

    def phase_at(self, now: float) -> PhaseNow:
        """The phase, with the time left by the run's plan (meta.json's `plan`)."""
        plan = self.meta.plan if self.meta is not None else {}
        length = {"steady": plan.get("steady"), "fault": plan.get("fault"), "recovery": plan.get("timeout")}
        planned = length.get(self.phase.name)
        left = None if planned is None else max(float(planned) - (now - self.phase.since), 0.0)
        return PhaseNow(self.phase.name, self.phase.since, left)

    def totals(self) -> dict[str, int]:
        out: Counter[str] = Counter()
        for e in self.entries.values():
            out.update(e.outcomes)
        return {o: out[o] for o in (*OUTCOMES, NOT_SENT)}

    def open_outage(self, now: float) -> tuple[str, float] | None:
        return longest_open({name: e.outage for name, e in self.entries.items()}, now)

    def worst_window(self, now: float) -> tuple[float, float] | None:
        """The worst 1 s window settled by `now` (see live.windows): (availability, start)."""
        timeout = self.meta.load.get("timeout") if self.meta is not None else None
        end = self.meta.phases.get("end") if self.meta is not None else None
        ended = isinstance(end, int | float) and now >= end  # the run is over: every request has its record
        return self.windows.worst(now, float(timeout) if isinstance(timeout, int | float) else 1.0, ended)

    def tasks_on(self) -> dict[str, int]:
        return running_per_node(self.tasks.values())

    def active_faults(self) -> list[FaultNow]:
        return [f for f in self.faults.values() if f.state != "reverted"]

    def status(self, now: float) -> dict[str, Any]:
        """Everything the live page's header and the terminal panel show, as plain JSON types."""
        phase = self.phase_at(now)
        outage = self.open_outage(now)
        worst = self.worst_window(now)
        tasks = self.tasks_on()
        meta = self.meta
        return {
            "run": meta.name if meta else "", "status": meta.status if meta else "running",
            "now": round(now, 2), "phase": phase.name,
            "phase_left": None if phase.left is None else round(phase.left, 1),
            "totals": self.totals(), "rates": self.recent.at(now),
            "outage": None if outage is None else {"entry": outage[0], "seconds": round(outage[1], 2)},
            "worst_1s": None if worst is None else {"availability": round(worst[0], 4), "start": round(worst[1], 2)},
            "error_seconds": self.windows.error_seconds,
            "leader": self.leader, "control_plane": self.control_plane, "door_silent": self.door_silent,
            "nodes": [{"name": n, "state": s.state, "role": s.role, "manager": s.manager,
                       "leader": n == self.leader, "tasks": tasks.get(n, 0), "door": self.door.get(n)}
                      for n, s in sorted(self.nodes.items(), key=lambda item: node_sort_key(item[0]))],
            "faults": [{"kind": f.kind, "node": f.node, "nodes": f.nodes, "state": f.state, "since": round(f.since, 2)}
                       for f in self.active_faults()],
        }
