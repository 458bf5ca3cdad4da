"""`engine-upgrade`: a node's container engine upgraded as an operator does it, while the load runs.

Per node, one at a time: drained first when asked (its tasks moved away, waited for), its engine stopped
gracefully (dockerd stops its containers), swapped to another Debian release's engine, started again, and
waited for until the swarm lists it Ready with the new version its own engine reports; then made active
again. With `rolling`, every other node whose engine differs follows: workers first, then the managers, each
next one picked when its turn comes among those that do not lead at that moment, so the leader goes last
even when leadership moved during the upgrade (or `order` gives the order).

The upgrade is what the fault is: its revert does not downgrade. The revert makes whole what an upgrade cut
short (a stop request, a node that did not come back): every node it touched running and active.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from pulltheplug.cluster.seam import DEADMAN_MARGIN, Evidence
from pulltheplug.errors import ClusterError, FaultError, SpecError
from pulltheplug.faults.base import Fault
from pulltheplug.spec import UpgradeSpec
from pulltheplug.swarm.api import API_ERRORS, answering_manager, leader_of, node_rows, set_availability, task_row
from pulltheplug.waiting import wait_until

log = logging.getLogger(__name__)

DRAIN_TIMEOUT = 60.0  # s for a drained node's tasks to stop (Swarm moves them within seconds)
STOP_TIMEOUT = 40.0  # s a graceful stop may take (dockerd stops its containers: 10 s each at most, in parallel)
BOOT_TIMEOUT = 70.0  # s for the engine to answer on its socket again


class UpgradeStopped(FaultError):
    """The run asked the upgrade to stop: the node being upgraded is finished (or left for the revert)."""


class EngineUpgrade(Fault):
    kind = "engine-upgrade"
    _order: list[str] | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._stop = threading.Event()
        self.done: list[str] = []  # the nodes upgraded so far, in the order they were

    @property
    def upgrade(self) -> UpgradeSpec:
        return self.spec.upgrade

    @property
    def nodes(self) -> list[str]:
        """Every node the upgrade may touch, the target first; decided once, before the first node changes.
        The managers' actual order is decided as each turn comes (the leader last): see `inject`."""
        if self._order is None:
            self._order = self._plan_order()
        return list(self._order)

    def _plan_order(self) -> list[str]:
        names = [n.name for n in self.cluster.nodes()]
        engines = self._engines()
        if engines.get(self.node) == self.upgrade.to:
            raise SpecError(f"engine-upgrade: {self.node} already runs {self.upgrade.to}'s engine: nothing to "
                            "upgrade (a lab keeps its upgrades: `pulltheplug lab down`, then up again)")
        if self.upgrade.order:
            unknown = [n for n in self.upgrade.order if n not in names]
            if unknown:
                raise SpecError(f"upgrade.order: no node {unknown[0]!r}: pick from {', '.join(names)}")
            return list(dict.fromkeys([self.node, *self.upgrade.order]))  # each node once
        if not self.upgrade.rolling:
            return [self.node]
        rest = [n for n in self.cluster.nodes() if n.name != self.node and engines.get(n.name) != self.upgrade.to]
        leader = self.context.leader

        def rank(n: Any) -> tuple[int, int]:
            place = 0 if n.role == "worker" else 2 if n.name == leader else 1
            return place, names.index(n.name)

        return [self.node, *[n.name for n in sorted(rest, key=rank)]]

    def _engines(self) -> dict[str, str]:
        described = self.cluster.describe().get("nodes")
        if not isinstance(described, list):
            return {}
        return {str(n.get("name")): str(n.get("engine", "")) for n in described if isinstance(n, dict)}

    @property
    def per_node(self) -> float:
        """The longest one node's upgrade may take, every step at its own timeout."""
        drain = DRAIN_TIMEOUT if self.upgrade.drain else 0.0
        return drain + STOP_TIMEOUT + BOOT_TIMEOUT + self.upgrade.ready_timeout + 30.0

    @property
    def deadman(self) -> float:
        """Long enough for every node's upgrade: a lab heal in the middle of one would boot a node concurrently."""
        return self.duration + len(self.nodes) * self.per_node + DEADMAN_MARGIN

    def arm(self) -> Evidence:
        # the release's engine ready before anything stops (built once, cached): its build is not downtime
        ready = self._act(lambda node: self.cluster.ready_engine(self.upgrade.to))
        armed = self._act(lambda node: self.cluster.arm_revert(node, self.kind, self.deadman - DEADMAN_MARGIN))
        return {**armed, "engine": ready}

    def disarm(self) -> None:
        self.cluster.disarm_revert(self.node)

    def cancel(self) -> None:
        """The run is stopping: finish the node in hand, start no other."""
        self._stop.set()

    def describe(self) -> Evidence:
        return {"to": self.upgrade.to, "drain": self.upgrade.drain, "order": self.nodes}

    def inject(self) -> Evidence:
        planned = self.nodes
        evidence: dict[str, Any] = {}
        todo = list(planned)
        while todo:
            if self._stop.is_set():
                raise UpgradeStopped(f"{self.kind}: stopped by the run after {', '.join(self.done) or 'no node'}")
            node = self._next(todo)
            todo.remove(node)
            evidence[node] = self._upgrade(node)
            self.done.append(node)
        evidence["order"] = list(self.done)
        return evidence

    def _next(self, todo: list[str]) -> str:
        """The first node left, except that a manager's turn goes to one that does not lead right now (with
        `rolling`): an upgrade costs the swarm one election at most, the leader's, last."""
        first = todo[0]
        if self.upgrade.order or not self.upgrade.rolling or first == self.node:
            return first
        roles = {n.name: n.role for n in self.cluster.nodes()}
        if roles.get(first) != "manager":
            return first
        try:
            client, listed = answering_manager(self.cluster, timeout=5)
            client.close()
            leader = leader_of(listed)
        except ClusterError as exc:
            log.debug("no leader known before the next upgrade: %s", exc)
            return first
        managers = [n for n in todo if roles.get(n) == "manager"]
        return next((n for n in managers if n != leader), first)

    def _upgrade(self, node: str) -> Evidence:
        started = time.monotonic()
        before = self._version(node)
        steps: dict[str, Any] = {"version_before": before}
        if self.upgrade.drain:
            self._set_availability(node, "drain")
            steps["tasks_gone_after"] = self._wait_tasks_gone(node)
        steps["stop"] = self._act(self.cluster.shut_down, node)
        steps["stopped_after"] = round(time.monotonic() - started, 3)
        # from here the node is down: it is booted whatever is asked, by this upgrade or by the revert
        steps["swap"] = self._act(lambda n: self.cluster.swap_engine(n, self.upgrade.to), node)
        steps["boot"] = self._act(self.cluster.boot, node)
        version = self._wait_ready(node, before)
        steps["version_after"] = version
        steps["ready_after"] = round(time.monotonic() - started, 3)
        if self.upgrade.drain:
            self._set_availability(node, "active")
        return steps

    def revert(self) -> Evidence:
        """Nothing to undo; whatever an upgrade cut short is made whole: each node running and active."""
        done: dict[str, list[str]] = {}
        running = {s.name: s.daemon for s in self.cluster.status()}
        for node in self.nodes:
            if not running.get(node, True):
                self._act(self.cluster.boot, node)
                done.setdefault(node, []).append("booted")
            if self.upgrade.drain:
                row = self._row(node)
                if row is None or row.get("availability") != "active":
                    self._set_availability(node, "active")
                    done.setdefault(node, []).append("active")
        return {"kept": f"engines upgraded to {self.upgrade.to}: {', '.join(self.done) or 'none'}",
                "made_whole": done}

    # --- the swarm's view, through a manager that answers --------------------------------------------
    def _row(self, node: str) -> dict[str, str] | None:
        try:
            client, listed = answering_manager(self.cluster, timeout=5)
        except ClusterError:
            return None
        client.close()
        return next((r for r in node_rows(listed) if r["name"] == node), None)

    def _version(self, node: str) -> str:
        row = self._row(node)
        return row.get("engine_version", "") if row else ""

    def _wait_ready(self, node: str, before: str) -> str:
        """Until the swarm lists the node Ready with the version its own engine now gives, which is not the one
        it had (the node has reported its new engine, not only reconnected)."""
        def ready() -> str | None:
            row = self._row(node)
            if row is None or row.get("state") != "ready":
                return None
            try:
                client = self.cluster.docker_client(node, timeout=5)
                try:
                    own = str(client.version().get("Version", ""))
                finally:
                    client.close()
            except API_ERRORS as exc:
                log.debug("%s: its engine's version: %s", node, exc)
                return None
            return own if own and own != before and row.get("engine_version") == own else None

        got = wait_until(ready, self.upgrade.ready_timeout, interval=0.5)
        if got is None:
            raise FaultError(f"{self.kind} on {node}: not Ready with a new engine within "
                             f"{self.upgrade.ready_timeout:.0f}s (it had {before or 'an unknown version'})")
        return got

    def _set_availability(self, node: str, availability: str) -> None:
        try:
            set_availability(self.cluster, node, availability)
        except ClusterError as exc:
            raise FaultError(f"{self.kind} on {node}: {exc}") from exc

    def _wait_tasks_gone(self, node: str) -> float:
        """Seconds until no task runs on the drained node any more."""
        started = time.monotonic()

        def gone() -> bool | None:
            try:
                client, listed = answering_manager(self.cluster, timeout=5)
            except ClusterError as exc:
                log.debug("no manager answers: %s", exc)
                return None
            try:
                ids = [r["id"] for r in node_rows(listed) if r["name"] == node]
                tasks = [t for t in map(task_row, client.api.tasks(filters={"node": ids})) if t] if ids else []
            except API_ERRORS as exc:
                log.debug("tasks of %s: %s", node, exc)
                return None
            finally:
                client.close()
            return True if not [t for t in tasks if t["state"] == "running"] else None

        if wait_until(gone, DRAIN_TIMEOUT, interval=0.5) is None:
            raise FaultError(f"{self.kind} on {node}: its tasks still ran {DRAIN_TIMEOUT:.0f}s after the drain")
        return round(time.monotonic() - started, 3)
