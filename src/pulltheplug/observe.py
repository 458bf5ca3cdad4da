"""The observer: polls every manager of the swarm and turns every change into an event.

A lone manager cannot be trusted: measured here, a leader cut off from the others keeps answering for
about 15 s with a stale view that still names itself leader, while the managers that can elect a new one
block until they have. So every manager is polled in its own thread, and the control plane counts as
available only while a majority of managers answer (as raft needs a quorum); the cluster view is taken
from the answer that most answering managers agree with (same leader). Silence is a result, recorded as
events, never a crash.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import docker

from pulltheplug.cluster import Cluster
from pulltheplug.record import Event
from pulltheplug.swarm_api import API_ERRORS, leader_of, node_row
from pulltheplug.workload import is_settled

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


@dataclass
class _Answer:
    at: float
    nodes: list[dict[str, Any]]
    tasks: list[dict[str, Any]]

    @property
    def leader(self) -> str | None:
        return leader_of(self.nodes)


class _ManagerPoller:
    """One manager, asked again and again; remembers its last answer and its last error."""

    def __init__(self, observer: Observer, manager: str) -> None:
        self.o = observer
        self.manager = manager
        self.answer: _Answer | None = None
        self.error = "not asked yet"
        self.pending_since: float | None = None  # run time when the call in flight began
        self.thread = threading.Thread(target=self._loop, name=f"observe-{manager}", daemon=True)
        self._client: docker.DockerClient | None = None

    def _loop(self) -> None:
        while not self.o.stopping.is_set():
            started = time.monotonic()
            try:
                self.poll()
            except Exception as exc:  # an odd answer must not end the observation
                log.debug("polling %s failed", self.manager, exc_info=not isinstance(exc, API_ERRORS))
                self.error = _short(exc)
            self.o.stopping.wait(max(0.0, self.o.interval - (time.monotonic() - started)))
        if self._client is not None:
            self._client.close()

    def why_silent(self, now: float) -> str:
        pending = self.pending_since  # read once: the poller thread may clear it meanwhile
        return f"no answer for {now - pending:.1f}s" if pending is not None else self.error

    def poll(self) -> None:
        self.pending_since = self.o.clock()
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
            self.error = _short(exc)
            return
        finally:
            self.pending_since = None
        self.answer = _Answer(self.o.clock(), nodes, tasks)


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
        # an answer older than this means the manager has gone silent (its call is hanging)
        self.staleness = max(1.0, 3 * interval)
        self.view = ClusterView()
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._answering: dict[str, bool] = {}
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
                self.emit(Event(self.clock(), "observer", {"manager": self.view.manager, "error": _short(exc)}))

    def merge(self) -> None:
        """One look at every manager's latest answer: who answers, is there a quorum, what it says."""
        now = self.clock()
        fresh = {p.manager: p.answer for p in self._pollers
                 if p.answer is not None and now - p.answer.at <= self.staleness}
        for p in self._pollers:
            answering = p.manager in fresh
            if self._answering.get(p.manager) != answering:
                self._answering[p.manager] = answering
                data: dict[str, Any] = {"manager": p.manager, "answering": answering}
                if not answering:
                    data["error"] = p.why_silent(now)
                self.emit(Event(now, "manager", data))
        if 2 * len(fresh) <= len(self._pollers):
            silent = [p for p in self._pollers if p.manager not in fresh]
            claims = ", ".join(f"{m} (says leader {a.leader})" for m, a in fresh.items() if a is not None)
            self._unavailable(now, f"{len(fresh)} of {len(self._pollers)} managers answer"
                              + (f": {claims}" if claims else "") + "; silent: "
                              + "; ".join(f"{p.manager}: {p.why_silent(now)}" for p in silent))
            return
        votes = Counter(a.leader for a in fresh.values() if a is not None)
        leader = votes.most_common(1)[0][0]
        agreeing = {m: a for m, a in fresh.items() if a is not None and a.leader == leader}
        # stay with the manager asked so far while it agrees: switching views back and forth is noise
        manager = self.view.manager if self.view.manager in agreeing else max(agreeing, key=lambda m: agreeing[m].at)
        self._apply(manager, agreeing[manager])

    def _unavailable(self, t: float, error: str) -> None:
        with self._lock:
            self.view.polls += 1
            if self.view.control_plane is not False:
                self.view.control_plane = False
                self.emit(Event(t, "control_plane", {"available": False, "manager": None, "error": error}))

    def _apply(self, manager: str, answer: _Answer) -> None:
        t = answer.at
        with self._lock:
            v = self.view
            v.polls += 1
            if v.control_plane is not True:
                v.control_plane = True
                self.emit(Event(self.clock(), "control_plane", {"available": True, "manager": manager}))
            if v.manager != manager:
                v.manager = manager
                self.emit(Event(t, "observer", {"manager": manager}))
            names: dict[str, str] = {}
            for n in answer.nodes:
                full = node_row(n)
                name = full["name"]
                names[full["id"]] = name
                row = {k: full[k] for k in ("state", "availability", "role", "manager")}
                if v.nodes.get(name) != row:
                    v.nodes[name] = row
                    self.emit(Event(t, "node", {"node": name, **row}))
            if answer.leader != v.leader:
                self.emit(Event(t, "leader", {"node": answer.leader, "previous": v.leader}))
                v.leader = answer.leader
            for task in answer.tasks:
                trow: dict[str, Any] = {
                    "service": self.service,
                    "slot": task.get("Slot"),
                    "node": names.get(task.get("NodeID", ""), task.get("NodeID", "")),
                    "state": task["Status"]["State"],
                    "desired": task["DesiredState"],
                }
                if v.tasks.get(task["ID"]) != trow:
                    v.tasks[task["ID"]] = trow
                    self.emit(Event(t, "task", {"task": task["ID"], **trow}))


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:160]}" if text else type(exc).__name__
