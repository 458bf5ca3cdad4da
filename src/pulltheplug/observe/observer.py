"""The observer: polls every manager of the swarm and turns every change into an event.

A lone manager cannot be trusted: measured here, a leader cut off from the others keeps answering for
about 15 s with a stale view that still names itself leader, while the managers that can elect a new one
block until they have. So every manager is polled in its own thread, and the control plane counts as
available only while a majority of all managers answer and name the same leader (as raft needs a
quorum); the cluster view is taken from that majority (see `quorum`). Silence is a result, recorded as
events, never a crash.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import docker

from pulltheplug.cluster.seam import Cluster
from pulltheplug.observe.quorum import Answer, ManagerState, quorum
from pulltheplug.records.events import (
    ControlPlaneEvent,
    Event,
    LeaderEvent,
    ManagerEvent,
    NodeEvent,
    ObserverEvent,
    TaskEvent,
)
from pulltheplug.swarm.api import API_ERRORS, leader_of, node_rows, task_row
from pulltheplug.swarm.workload import is_settled

log = logging.getLogger(__name__)

Clock = Callable[[], float]
Emit = Callable[[Event], None]


@dataclass
class ClusterView:
    """The latest observed state, for the run to decide when the cluster has converged."""

    nodes: dict[str, dict[str, str]] = field(default_factory=dict)  # name -> state, availability, manager, role
    leader: str | None = None
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)  # id -> state, desired, node, slot
    control_plane: bool | None = None
    manager: str | None = None
    polls: int = 0

    def running_tasks(self) -> int:
        return sum(1 for t in self.tasks.values() if t["state"] == "running" and t["desired"] == "running")

    def tasks_settled(self, replicas: int) -> bool:
        """Every replica running, and no task on its way (desired ready/running but not yet running)."""
        return is_settled([t["state"] for t in self.tasks.values() if t["desired"] in ("ready", "running")],
                          replicas)

    def all_ready(self, names: list[str]) -> bool:
        return all(self.nodes.get(n, {}).get("state") == "ready" for n in names)


class _ManagerPoller:
    """One manager, asked again and again; its `state` (replaced whole) holds its last answer and silence."""

    def __init__(self, observer: Observer, manager: str) -> None:
        self.o = observer
        self.manager = manager
        self.state = ManagerState()
        self.thread = threading.Thread(target=self._loop, name=f"observe-{manager}", daemon=True)
        self._client: docker.DockerClient | None = None

    def _loop(self) -> None:
        while not self.o.stopping.is_set():
            started = time.monotonic()
            try:
                self.poll()
            except Exception as exc:  # an odd answer must not end the observation
                log.debug("polling %s failed", self.manager, exc_info=not isinstance(exc, API_ERRORS))
                self.state = self.state.failed(_short(exc))
            self.o.stopping.wait(max(0.0, self.o.interval - (time.monotonic() - started)))
        if self._client is not None:
            self._client.close()

    def poll(self) -> None:
        self.state = self.state.asking(self.o.clock())
        try:
            if self._client is None:
                self._client = self.o.cluster.docker_client(self.manager, timeout=self.o.request_timeout)
            nodes = self._client.api.nodes()
            svc = self.o.service
            tasks = self._client.api.tasks(filters={"service": svc}) if svc else []
        except API_ERRORS as exc:
            if self._client is not None:
                self._client.close()
            self._client = None
            self.state = self.state.failed(_short(exc))
            return
        self.state = self.state.answered(Answer(self.o.clock(), leader_of(nodes), nodes, tasks), self.o.staleness)


class Observer:
    """Pollers per manager plus one thread that merges their answers into events (run clock, seconds)."""

    def __init__(self, cluster: Cluster, service: str | None, clock: Clock, emit: Emit,
                 interval: float = 0.25, request_timeout: float = 2.0) -> None:
        self.cluster = cluster
        self.service = service
        self.clock = clock
        self.emit = emit
        self.interval = interval
        self.request_timeout = request_timeout
        # a call in flight longer than this means the manager has gone silent (since that call began)
        self.staleness = max(1.0, 3 * interval)
        self.view = ClusterView()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._answering: dict[str, bool] = {}
        self._plane_t = float("-inf")  # time of the last control-plane event
        self._pollers = [_ManagerPoller(self, n.name) for n in cluster.nodes() if n.role == "manager"]
        self._thread = threading.Thread(target=self._loop, name="observer", daemon=True)

    def start(self) -> None:
        """Start polling; returns once the first view is there (or every manager failed once)."""
        for p in self._pollers:
            p.poll()
        self.merge()
        for p in self._pollers:
            p.thread.start()
        self._thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for t in [self._thread, *(p.thread for p in self._pollers)]:
            if t.is_alive():
                t.join(timeout=self.request_timeout + 1)

    def snapshot(self) -> ClusterView:
        with self._lock:
            v = self.view
            return ClusterView(dict(v.nodes), v.leader, dict(v.tasks), v.control_plane, v.manager, v.polls)

    def _loop(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                self.merge()
            except Exception as exc:  # recorded, and the observation goes on
                log.warning("merging the managers' answers failed", exc_info=True)
                self.emit(ObserverEvent(t=self.clock(), manager=self.view.manager, error=_short(exc)))

    def merge(self) -> None:
        """One look at every manager's latest state: who answers, whether a majority agrees, what it says.

        Events carry the time the polls date a change to (a silence from its first unanswered poll), which
        may be before now: readers of events sort them by time.
        """
        now = self.clock()
        states = {p.manager: p.state for p in self._pollers}  # each read once: the pollers replace them
        q = quorum(states, now, self.staleness, self.view.leader, self.view.manager)
        for m, state in states.items():
            answering = m not in q.silent
            if self._answering.get(m) != answering:
                self._answering[m] = answering
                self.emit(ManagerEvent(t=q.silent[m] if not answering else state.leader_since, manager=m,
                                       answering=answering, error=None if answering else state.why_silent(now)))
        if not q.available or q.manager is None:
            self._unavailable(q.since, q.error or "no majority")
            return
        answer = states[q.manager].answer
        assert answer is not None  # an agreeing manager has answered
        self._apply(q.manager, answer, q.since)

    def _plane_event(self, t: float, available: bool, manager: str | None, error: str | None = None) -> None:
        """Never before the previous control-plane event: a window must not end before it starts."""
        self._plane_t = max(t, self._plane_t)
        self.emit(ControlPlaneEvent(t=self._plane_t, available=available, manager=manager, error=error))

    def _unavailable(self, t: float, error: str) -> None:
        with self._lock:
            self.view.polls += 1
            if self.view.control_plane is not False:
                self.view.control_plane = False
                self._plane_event(t, False, None, error)

    def _apply(self, manager: str, answer: Answer, since: float) -> None:
        t = answer.at
        with self._lock:
            v = self.view
            v.polls += 1
            if v.control_plane is not True:
                v.control_plane = True
                self._plane_event(since, True, manager)
            if v.manager != manager:
                v.manager = manager
                self.emit(ObserverEvent(t=t, manager=manager))
            names: dict[str, str] = {}
            for full in node_rows(answer.nodes):
                name = full["name"]
                names[full["id"]] = name
                row = {k: full[k] for k in ("state", "availability", "role", "manager")}
                if v.nodes.get(name) != row:
                    v.nodes[name] = row
                    self.emit(NodeEvent(t=t, node=name, state=row["state"], availability=row["availability"],
                                        role=row["role"], manager=row["manager"]))
            if answer.leader != v.leader:
                self.emit(LeaderEvent(t=t, node=answer.leader, previous=v.leader))
                v.leader = answer.leader
            for task in filter(None, map(task_row, answer.tasks)):
                trow: dict[str, Any] = {
                    "service": self.service,
                    "slot": task["slot"],
                    "node": names.get(task["node_id"], task["node_id"]),
                    "state": task["state"],
                    "desired": task["desired"],
                }
                if v.tasks.get(task["id"]) != trow:
                    v.tasks[task["id"]] = trow
                    self.emit(TaskEvent(t=t, task=task["id"], **trow))


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:160]}" if text else type(exc).__name__
