"""What the lab does to one node: its link, its processes (a graceful stop, a power cut, a boot, a freeze), its
services, its traffic filters; the Cluster's node actions return evidence that they took effect."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

from pulltheplug.cluster.seam import Evidence
from pulltheplug.cluster.traffic import TABLE, TrafficRules, ruleset
from pulltheplug.errors import FaultError
from pulltheplug.lab import cgroups, daemon, engines, flap, network, services
from pulltheplug.lab.plan import LabPlan
from pulltheplug.lab.state import LabState, save_state

log = logging.getLogger(__name__)


class LabNodes:
    """The node actions of `Lab`, which gives them its plan, its state and the lock that guards the state."""

    plan: LabPlan
    state: LabState
    _lock: threading.RLock
    _flaps: dict[str, int]  # node -> pid of its flapping loop

    def set_nic(self, node: str, up: bool) -> None:
        network.set_eth0(self.plan.node(node), up)

    def nic_is_up(self, node: str) -> bool:
        return network.eth0_is_up(self.plan.node(node))

    def stop_node(self, node: str) -> None:
        """A graceful shutdown: the node's services first (they say goodbye), then dockerd."""
        with self._lock:
            pids = self.state.service_pids.pop(node, {})
            save_state(self.state)
        for pid in pids.values():
            services.stop(pid)
        daemon.stop(self.plan.node(node))

    def node_service(self, node: str, name: str, argv: Sequence[str] | None) -> None:
        plan = self.plan.node(node)
        with self._lock:
            pids = self.state.service_pids.setdefault(node, {})
            if name in pids:
                services.stop(pids.pop(name))
            if argv is None:
                self.state.services.get(node, {}).pop(name, None)
            else:
                self.state.services.setdefault(node, {})[name] = list(argv)
                pids[name] = services.start(plan, name, argv)
            save_state(self.state)

    def power_off_node(self, node: str) -> int:
        return daemon.power_off(self.plan.node(node))

    def boot_node(self, node: str) -> None:
        """Boot, or, if a boot already started (a revert retried), wait for that one."""
        plan = self.plan.node(node)
        # one boot of a node at a time, across processes (a revert, `lab heal`, a dead-man), held until the
        # engine answers: a second booter must never take a dockerd still starting for an orphan to end
        with file_lock(Path(plan.dir) / "boot.lock"):
            pid = daemon.running_pid(plan)
            if pid is None:  # after an engine crash its containers still run: a start without live-restore ends them
                daemon.end_orphans(plan, set(self.state.service_pids.get(node, {}).values()))
                pid = daemon.boot(plan)
            version = daemon.wait_ready(plan, pid)
        with self._lock:
            if self.state.engine_versions.get(node) != version:  # an engine swapped while the node was down
                self.state.engine_versions[node] = version
                save_state(self.state)
        with self._lock:  # a quorum loss boots several nodes at once
            pids = self.state.service_pids.setdefault(node, {})
            for name, argv in self.state.services.get(node, {}).items():  # started at boot, as systemd would
                if name not in pids or not services.alive(pids[name]):
                    pids[name] = services.start(plan, name, argv)
            save_state(self.state)

    def freeze_node(self, node: str, frozen: bool) -> None:
        cgroups.set_frozen(self.plan.node(node).cgroup, frozen)

    def node_frozen(self, node: str) -> bool:
        return cgroups.is_frozen(self.plan.node(node).cgroup)

    def node_pids(self, node: str) -> list[int]:
        return cgroups.pids(self.plan.node(node).cgroup)

    def node_running(self, node: str) -> bool:
        return daemon.is_up(self.plan.node(node))

    def nic_down(self, node: str, seconds: float) -> Evidence:
        """eth0 down; the run reverts it (its dead-man, or `lab heal`, after a killed run)."""
        self.set_nic(node, False)
        up = self.nic_is_up(node)
        return _require(not up, {"eth0_up": up}, "eth0 is still up")

    def nic_up(self, node: str) -> Evidence:
        self.set_nic(node, True)
        up = self.nic_is_up(node)
        return _require(up, {"eth0_up": up}, "eth0 did not come back up")

    def shut_down(self, node: str) -> Evidence:
        self.stop_node(node)
        return self._off_evidence(node, {"stopped": "graceful"})

    def power_off(self, node: str) -> Evidence:
        return self._off_evidence(node, {"killed": self.power_off_node(node)})

    def _off_evidence(self, node: str, extra: Evidence) -> Evidence:
        left = self.node_pids(node)
        evidence = {**extra, "processes_left": len(left), "daemon_running": self.node_running(node)}
        return _require(not left, evidence, "processes of the node are still alive")

    def boot(self, node: str) -> Evidence:
        self.boot_node(node)
        running = self.node_running(node)
        return _require(running, {"daemon_running": running}, "the node did not boot")

    def freeze(self, node: str, seconds: float) -> Evidence:
        self.freeze_node(node, True)
        frozen = self.node_frozen(node)
        return _require(frozen, {"frozen": frozen, "processes": len(self.node_pids(node))}, "the node is not frozen")

    def thaw(self, node: str) -> Evidence:
        self.freeze_node(node, False)
        frozen = self.node_frozen(node)
        return _require(not frozen, {"frozen": frozen}, "the node is still frozen")

    def filter_traffic(self, node: str, rules: TrafficRules) -> Evidence:
        n = self.plan.node(node)
        network.apply_nft(n, ruleset(rules))
        listing = network.nft_table(n, TABLE) or ""
        drops = listing.count(" drop")
        return _require(drops > 0, {"table": f"inet {TABLE}", "drop_rules": drops}, "the filter table is not there")

    def clear_traffic(self, node: str) -> Evidence:
        n = self.plan.node(node)
        was = network.delete_nft(n, TABLE)
        left = network.nft_table(n, TABLE) is not None
        return _require(not left, {"table_removed": was, "table_left": left}, "the filter table is still there")

    def flap(self, node: str, period: float, down: float, seconds: float) -> Evidence:
        n = self.plan.node(node)
        self._flaps[node] = flap.start(self.plan, n, period, down, seconds)
        return {"flapping": True, "period": period, "down": down}

    def unflap(self, node: str) -> Evidence:
        n = self.plan.node(node)
        pid = self._flaps.pop(node, None)
        if pid is not None:
            flap.stop(self.plan, pid)
        network.set_eth0(n, True)
        up = network.eth0_is_up(n)
        return _require(up, {"eth0_up": up, "downs": flap.downs(n)}, "eth0 did not come back up")

    def crash_engine(self, node: str) -> Evidence:
        n = self.plan.node(node)
        killed = daemon.crash(n)
        running = daemon.is_up(n)
        evidence = {"killed": killed, "daemon_running": running, "processes_left": len(self.node_pids(node))}
        return _require(bool(killed) and not running, evidence, "the engine is still running")

    def start_engine(self, node: str) -> Evidence:
        return self.boot(node)

    def ready_engine(self, release: str) -> Evidence:
        engines.ensure([release], lambda message: log.info("engine %s: %s", release, message))  # built once
        return {"release": release, "versions": engines.versions(release)}

    def swap_engine(self, node: str, release: str) -> Evidence:
        n = self.plan.node(node)
        if not engines.ready(release):
            raise FaultError(f"{node}: engine {release} is not built (ready_engine first)")
        # under the node's boot lock: a `lab heal` booting it meanwhile would boot the engine it read before
        with file_lock(Path(n.dir) / "boot.lock"):
            if daemon.is_up(n):
                raise FaultError(f"{node}: its engine still runs: stop the node before swapping its engine")
            with self._lock:
                before, n.engine = n.engine, release
                save_state(self.state)
        return {"engine_before": before, "engine": release}


@contextlib.contextmanager
def file_lock(path: Path) -> Iterator[None]:
    with open(path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def _require(ok: bool, evidence: Evidence, what: str) -> Evidence:
    if not ok:
        raise FaultError(f"{what} (evidence: {evidence})")
    return evidence
