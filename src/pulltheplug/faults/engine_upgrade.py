"""`engine-upgrade`: a node's container engine upgraded as an operator does it, while the load runs.

Per node, one at a time: drained first when asked (its tasks moved away, waited for), its engine stopped
gracefully (dockerd stops its containers), swapped to another Debian release's engine, started again, and
waited for until the swarm lists it Ready with the new version; then made active again. With `rolling`, every
other node whose engine differs follows, workers first, then followers, the leader last (or in `order`).

The upgrade is what the fault is: its revert does not downgrade. The revert makes sure what an upgrade cut
short is whole again: every node it touched running and active.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from pulltheplug.cluster.seam import DEADMAN_MARGIN, Evidence
from pulltheplug.errors import ClusterError, FaultError, SpecError
from pulltheplug.faults.base import Fault
from pulltheplug.spec import UpgradeSpec
from pulltheplug.swarm.api import API_ERRORS, answering_manager, node_rows, task_row
from pulltheplug.waiting import wait_until

log = logging.getLogger(__name__)

DRAIN_TIMEOUT = 60.0  # s for a drained node's tasks to stop (Swarm moves them within seconds)


class EngineUpgrade(Fault):
    kind = "engine-upgrade"
    _order: list[str] | None = None

    @property
    def upgrade(self) -> UpgradeSpec:
        return self.spec.upgrade

    @property
    def nodes(self) -> list[str]:
        """The target, then the nodes after it: `order`, or with `rolling` every other node whose engine differs
        (workers, then followers, then the leader); decided once, before the first node changes."""
        if self._order is None:
            self._order = self._plan_order()
        return list(self._order)

    def _plan_order(self) -> list[str]:
        names = [n.name for n in self.cluster.nodes()]
        if self.upgrade.order:
            unknown = [n for n in self.upgrade.order if n not in names]
            if unknown:
                raise SpecError(f"upgrade.order: no node {unknown[0]!r}: pick from {', '.join(names)}")
            return [self.node, *[n for n in self.upgrade.order if n != self.node]]
        if not self.upgrade.rolling:
            return [self.node]
        engines = self._engines()
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
    def deadman(self) -> float:
        """Long enough for every node's upgrade: a lab heal in the middle of one would boot it concurrently."""
        return self.duration + len(self.nodes) * (self.upgrade.ready_timeout + DRAIN_TIMEOUT + 30) + DEADMAN_MARGIN

    def arm(self) -> Evidence:
        return self._act(lambda node: self.cluster.arm_revert(node, self.kind, self.deadman - DEADMAN_MARGIN))

    def disarm(self) -> None:
        self.cluster.disarm_revert(self.node)

    def describe(self) -> Evidence:
        return {"to": self.upgrade.to, "drain": self.upgrade.drain, "order": self.nodes}

    def inject(self) -> Evidence:
        return {node: self._upgrade(node) for node in self.nodes}

    def _upgrade(self, node: str) -> Evidence:
        started = time.monotonic()
        before = self._version(node)
        steps: dict[str, Any] = {"version_before": before}
        if self.upgrade.drain:
            self._set_availability(node, "drain")
            steps["tasks_gone_after"] = self._wait_tasks_gone(node)
        steps["stop"] = self._act(self.cluster.shut_down, node)
        steps["stopped_after"] = round(time.monotonic() - started, 3)
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
        for node in self.nodes:
            row = self._row(node)
            if row is None or row.get("state") != "ready":
                status = {s.name: s for s in self.cluster.status()}
                if node in status and not status[node].daemon:
                    self._act(self.cluster.boot, node)
                    done.setdefault(node, []).append("booted")
            if self.upgrade.drain and (row is None or row.get("availability") != "active"):
                self._set_availability(node, "active")
                done.setdefault(node, []).append("active")
        return {"kept": f"engines upgraded to {self.upgrade.to}", "made_whole": done}

    # --- the swarm's view, through a manager that answers --------------------------------------------
    def _rows(self) -> list[dict[str, str]]:
        client, nodes = answering_manager(self.cluster, timeout=5)
        client.close()
        return node_rows(nodes)

    def _row(self, node: str) -> dict[str, str] | None:
        try:
            return next((r for r in self._rows() if r["name"] == node), None)
        except ClusterError:
            return None

    def _version(self, node: str) -> str:
        row = self._row(node)
        return row.get("engine", "") if row else ""

    def _wait_ready(self, node: str, before: str) -> str:
        """Until the swarm lists the node Ready with the version its own engine now gives (the node has
        reported its new description, not only reconnected)."""
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
            return own if own and row.get("engine") == own else None

        got = wait_until(ready, self.upgrade.ready_timeout, interval=0.5)
        if got is None:
            raise FaultError(f"{self.kind} on {node}: not Ready with its new engine within "
                             f"{self.upgrade.ready_timeout:.0f}s")
        return got

    def _set_availability(self, node: str, availability: str) -> None:
        client, nodes = answering_manager(self.cluster, timeout=10)
        try:
            for n in nodes:
                if n.get("Description", {}).get("Hostname") == node:
                    spec = dict(n["Spec"], Availability=availability)
                    client.api.update_node(n["ID"], n["Version"]["Index"], spec)
                    return
        except API_ERRORS as exc:
            raise FaultError(f"{self.kind} on {node}: cannot set it {availability}: {exc}") from exc
        finally:
            client.close()
        raise FaultError(f"{self.kind} on {node}: the swarm does not list it")

    def _wait_tasks_gone(self, node: str) -> float:
        """Seconds until no task runs on the drained node any more."""
        started = time.monotonic()

        def gone() -> bool | None:
            try:
                client, nodes = answering_manager(self.cluster, timeout=5)
            except ClusterError as exc:
                log.debug("no manager answers: %s", exc)
                return None
            try:
                ids = [r["id"] for r in node_rows(nodes) if r["name"] == node]
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
