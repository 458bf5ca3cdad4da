"""The observer: polls the swarm through a reachable manager and turns every change into an event.

It asks one manager at a time; when that manager stops answering (as the leader does when it is the
target), it fails over to the next. When none answers, the control plane is unavailable: that is a
result, recorded as events, never a crash.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import docker
import requests

from pulltheplug.cluster import Cluster
from pulltheplug.record import Event

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

    def all_ready(self, names: list[str]) -> bool:
        return all(self.nodes.get(n, {}).get("state") == "ready" for n in names)


class Observer:
    """Background thread: poll, diff, emit. Times come from the run's clock (monotonic, run seconds)."""

    def __init__(self, cluster: Cluster, service: str | None, clock: Clock, emit: Emit,
                 interval: float = 0.25, request_timeout: float = 2.0) -> None:
        self.cluster = cluster
        self.service = service
        self.clock = clock
        self.emit = emit
        self.interval = interval
        self.request_timeout = request_timeout
        self.view = ClusterView()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="observer", daemon=True)
        self._clients: dict[str, docker.DockerClient] = {}
        self._managers = [n.name for n in cluster.nodes() if n.role == "manager"]

    def start(self) -> None:
        self.poll_once()  # the first view is there before the run begins
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=self.request_timeout * (len(self._managers) + 2))
        for c in self._clients.values():
            c.close()

    def snapshot(self) -> ClusterView:
        with self._lock:
            return ClusterView(dict(self.view.nodes), self.view.leader, dict(self.view.tasks),
                               self.view.control_plane, self.view.manager, self.view.polls)

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.poll_once()
            self._stop.wait(max(0.0, self.interval - (time.monotonic() - started)))

    def _client(self, node: str) -> docker.DockerClient:
        if node not in self._clients:
            self._clients[node] = self.cluster.docker_client(node, timeout=self.request_timeout)
        return self._clients[node]

    def _order(self) -> list[str]:
        """Ask the manager that answered last first, then the leader, then the others."""
        first = [m for m in (self.view.manager, self.view.leader) if m in self._managers]
        return list(dict.fromkeys(first + self._managers))

    def poll_once(self) -> None:
        errors = []
        for manager in self._order():
            try:
                c = self._client(manager)
                nodes = c.api.nodes()
                tasks = c.api.tasks(filters={"service": self.service}) if self.service else []
            except (docker.errors.DockerException, requests.exceptions.RequestException, OSError) as exc:
                self._clients.pop(manager, None)
                errors.append(f"{manager}: {_short(exc)}")
                continue
            self._apply(manager, nodes, tasks)
            return
        self._unavailable("; ".join(errors))

    def _unavailable(self, error: str) -> None:
        t = self.clock()
        with self._lock:
            self.view.polls += 1
            if self.view.control_plane is not False:
                self.view.control_plane = False
                self.emit(Event(t, "control_plane", {"available": False, "manager": None, "error": error}))

    def _apply(self, manager: str, nodes: list[dict[str, Any]], tasks: list[dict[str, Any]]) -> None:
        t = self.clock()
        with self._lock:
            v = self.view
            v.polls += 1
            if v.control_plane is not True:
                v.control_plane = True
                self.emit(Event(t, "control_plane", {"available": True, "manager": manager}))
            if v.manager != manager:
                v.manager = manager
                self.emit(Event(t, "observer", {"manager": manager}))
            names: dict[str, str] = {}
            leader = None
            for n in nodes:
                name = n["Description"]["Hostname"]
                names[n["ID"]] = name
                ms = n.get("ManagerStatus") or {}
                row = {
                    "state": n["Status"]["State"],
                    "availability": n["Spec"]["Availability"],
                    "role": n["Spec"]["Role"],
                    "manager": "leader" if ms.get("Leader") else str(ms.get("Reachability", "")),
                }
                if ms.get("Leader"):
                    leader = name
                if v.nodes.get(name) != row:
                    v.nodes[name] = row
                    self.emit(Event(t, "node", {"node": name, **row}))
            if leader != v.leader:
                self.emit(Event(t, "leader", {"node": leader, "previous": v.leader}))
                v.leader = leader
            for task in tasks:
                row = {
                    "service": self.service,
                    "slot": task.get("Slot"),
                    "node": names.get(task.get("NodeID", ""), task.get("NodeID", "")),
                    "state": task["Status"]["State"],
                    "desired": task["DesiredState"],
                }
                if v.tasks.get(task["ID"]) != row:
                    v.tasks[task["ID"]] = row
                    self.emit(Event(t, "task", {"task": task["ID"], **row}))


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:160]}" if text else type(exc).__name__
