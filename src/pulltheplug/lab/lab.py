"""Bringing a lab up and down, and using it as a `Cluster`."""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import logging
import os
import shutil
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import docker

from pulltheplug.cluster.local_files import LocalFiles
from pulltheplug.cluster.seam import DEADMAN_MARGIN, ClusterNode, Evidence, Listener, NodeStatus, all_whole
from pulltheplug.cluster.traffic import TABLE
from pulltheplug.errors import ClusterError, FaultError, LabError, MissingToolError, NotRootError
from pulltheplug.lab import cgroups, daemon, deadman, engines, flap, network
from pulltheplug.lab.build import build
from pulltheplug.lab.edge import LabEdge
from pulltheplug.lab.node_actions import LabNodes, file_lock
from pulltheplug.lab.plan import LabPlan, check_name, check_shape, node_names, pick_subnet, plan_lab
from pulltheplug.lab.state import LabState, load_state, require_state, save_state
from pulltheplug.lab.teardown import teardown
from pulltheplug.swarm import settings as swarm_settings
from pulltheplug.swarm.api import answering_manager, node_rows, set_availability

log = logging.getLogger(__name__)
IPVS = Path("/proc/net/ip_vs")  # present once the kernel's IP_VS is loaded (dockerd would load it)

DEFAULT_NAME = "lab"
REQUIRED_TOOLS = {
    "dockerd": "apt-get install docker.io",
    "containerd": "apt-get install docker.io",
    "runc": "apt-get install docker.io",
    "busybox": "apt-get install busybox-static",
    "ip": "apt-get install iproute2",
    "nsenter": "apt-get install util-linux",
    "unshare": "apt-get install util-linux",
}

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    pass


def require_root() -> None:
    if os.geteuid() != 0:
        raise NotRootError("the lab needs root (namespaces, cgroups, dockerd): run it with sudo")


def require_tools() -> None:
    for tool, fix in REQUIRED_TOOLS.items():
        if shutil.which(tool) is None:
            raise MissingToolError(f"{tool} is missing: run `{fix}` (or `pulltheplug doctor`)")


class Lab(LabNodes):
    """A lab that is up (or being made): the `Cluster` backed by namespaces and local dockerds."""

    kind = "lab"
    fault_kinds = frozenset({"nic-down", "reboot", "power-loss", "freeze", "partition", "loss", "flap",
                             "engine-crash", "task-kill", "quorum-loss", "engine-upgrade"})

    def __init__(self, state: LabState) -> None:
        self.state = state
        self.plan: LabPlan = state.plan
        self.name = self.plan.name
        self._deadman: int | None = None  # pid of the dead-man this process armed, while a fault is armed
        self._deadman_due = 0.0  # when it fires (monotonic)
        self._armed: dict[str, int] = {}  # node -> how many of its faults it covers
        self._lock = threading.RLock()  # faults of a schedule (and a quorum loss's boots) act from several threads
        self._flaps: dict[str, int] = {}  # node -> pid of its flapping loop
        self._settings_deadman: int | None = None  # pid of the dead-man of the swarm settings a run changed

    @classmethod
    def open(cls, name: str = DEFAULT_NAME) -> Lab:
        require_root()
        return cls(require_state(name))

    # --- Cluster interface -------------------------------------------------------------------------
    def describe(self) -> dict[str, object]:
        versions = self.state.engine_versions
        return {"name": self.name, "kind": "lab",
                "engine_version": " and ".join(sorted(set(versions.values()))) or self.state.engine_version,
                "subnet": self.plan.subnet,
                "nodes": [{"name": n.name, "address": n.address, "role": n.role, "engine": n.engine,
                           "engine_version": versions.get(n.name, "")} for n in self.plan.nodes]}

    def nodes(self) -> list[ClusterNode]:
        return [ClusterNode(n.name, n.address, n.role) for n in self.plan.nodes]

    def node(self, name: str) -> ClusterNode:
        n = self.plan.node(name)
        return ClusterNode(n.name, n.address, n.role)

    def docker_client(self, node: str, timeout: float = 5) -> docker.DockerClient:
        return daemon.client(self.plan.node(node), timeout)

    def arm_revert(self, node: str, kind: str, duration: float) -> Evidence:
        """The lab's dead-man (see `lab/deadman.py`): it heals the whole lab DEADMAN_MARGIN after the fault's
        end unless the run reverted first. One per lab, covering every armed fault: a fault due to end later
        than the one armed replaces it (a second more is not worth a new process: a fault on several nodes
        arms once)."""
        self.plan.node(node)
        after = duration + DEADMAN_MARGIN
        due = time.monotonic() + after
        with self._lock:
            if self._deadman is None or due > self._deadman_due + 1.0:
                old, self._deadman, self._deadman_due = self._deadman, deadman.arm(self.plan, after), due
                if old is not None:
                    deadman.disarm(old)
            self._armed[node] = self._armed.get(node, 0) + 1
        return {"deadman": "lab heal", "after": after}

    def disarm_revert(self, node: str) -> None:
        """One armed fault of the node is over; the dead-man ends with the last armed fault of the lab."""
        with self._lock:
            left = self._armed.get(node, 0) - 1
            if left > 0:
                self._armed[node] = left
            else:
                self._armed.pop(node, None)
            if not self._armed and self._deadman is not None:
                deadman.disarm(self._deadman)
                self._deadman = None

    def is_whole(self) -> bool:
        return all_whole(self.status())

    def rebuild(self, engine: str | None = None) -> None:
        """Down and up again with the same plan's size and engines (or every node on `engine`); this object
        then speaks for the new lab."""
        nodes, managers = len(self.plan.nodes), len(self.plan.managers)
        chosen = engine or ",".join(f"{n.name}={n.engine}" for n in self.plan.nodes)
        down(self.name)
        made = up(self.name, nodes, managers, engine=chosen)
        self.state, self.plan = made.state, made.plan

    @property
    def fault_file(self) -> Path:
        return Path(self.plan.dir) / "fault.json"

    def node_files(self, node: str, purpose: str) -> LocalFiles:
        """Lab nodes share this machine's filesystem: a folder in the node's own."""
        return LocalFiles(Path(self.plan.node(node).dir) / purpose)

    def container_netns(self, node: str, container_id: str) -> Path:
        """Lab nodes share this machine's PID namespace: the container's init pid names its namespace."""
        client = self.docker_client(node)
        try:
            pid = int(client.containers.get(container_id).attrs["State"]["Pid"])
        finally:
            client.close()
        if pid <= 0:
            raise ClusterError(f"{node}: container {container_id[:12]} is not running")
        return Path(f"/proc/{pid}/ns/net")

    def routing_mesh(self) -> str | None:
        """The lab's nodes share this kernel: the mesh works where it has IP_VS (`pulltheplug doctor`)."""
        return None if IPVS.exists() else "this kernel has no IP_VS (see `pulltheplug doctor`)"

    def open_edge(self) -> LabEdge:
        return LabEdge(self.plan).open()

    def watch(self, listener: Listener | None) -> None:
        """The lab reaches its nodes through the kernel, not a link that can die: nothing to tell."""

    def note_fault(self, fault: dict[str, object] | None) -> None:
        if fault is None:
            self.fault_file.unlink(missing_ok=True)
        else:
            self.fault_file.write_text(json.dumps(fault))

    @property
    def settings_file(self) -> Path:
        return Path(self.plan.dir) / "swarm-settings.json"

    def guard_settings(self, before: dict[str, float | int | None] | None, seconds: float) -> Evidence:
        """`before` in `settings_file` for `heal`, and a dead-man of its own (the faults' one would then wait as
        long as the settings do, and heal a cut node minutes late); None: both gone."""
        with self._lock:
            if self._settings_deadman is not None:
                deadman.disarm(self._settings_deadman)
                self._settings_deadman = None
            if before is None:
                self.settings_file.unlink(missing_ok=True)
                return {}
            self.settings_file.write_text(json.dumps({"before": before}))  # first: a dead-man that fires finds it
            after = seconds + DEADMAN_MARGIN
            try:
                self._settings_deadman = deadman.arm(self.plan, after)
            except FaultError:
                self.settings_file.unlink(missing_ok=True)
                raise
            # its pid too: a heal (`lab heal`, a fault's dead-man) ends it, so it never fires under a later run
            self.settings_file.write_text(json.dumps({"before": before, "deadman": self._settings_deadman}))
        return {"deadman": "lab heal", "after": after}

    def noted_settings(self) -> dict[str, float | int | None] | None:
        """The swarm settings a run changed and has not put back (the run may have been killed)."""
        before = self._settings_note().get("before")
        return before if isinstance(before, dict) else None

    def _settings_note(self) -> dict[str, object]:
        try:
            data = json.loads(self.settings_file.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def active_fault(self) -> dict[str, object] | None:
        """A fault a run injected and has not reverted (the run may have been killed)."""
        try:
            data = json.loads(self.fault_file.read_text())
        except (OSError, ValueError):
            return None
        return data if isinstance(data, dict) else None

    def heal(self) -> list[str]:
        """Undo whatever fault a killed run left behind: flapping stopped, filters gone, eth0 up, node thawed,
        engine started or node booted."""
        with _heal_lock(self.plan):
            return self._heal()

    def _heal(self) -> list[str]:
        done = []
        if flap.stop_all(self.plan):
            done.append("flapping links stopped")
        for n in self.plan.nodes:
            if network.delete_nft(n, TABLE):
                done.append(f"{n.name}: traffic filters removed")
            if not network.eth0_is_up(n):
                network.set_eth0(n, True)
                done.append(f"{n.name}: eth0 up")
            if cgroups.is_frozen(n.cgroup):
                cgroups.set_frozen(n.cgroup, False)
                done.append(f"{n.name}: thawed")
            if not daemon.is_up(n):
                self.boot_node(n.name)
                done.append(f"{n.name}: booted")
        for row in self.status():  # an upgrade killed while a node was drained (nothing else drains lab nodes)
            if row.availability == "drain" and row.daemon:
                try:
                    set_availability(self, row.name, "active")
                    done.append(f"{row.name}: active again")
                except ClusterError as exc:
                    log.warning("%s stays drained: %s", row.name, exc)
        self.note_fault(None)
        settings, pid = self.noted_settings(), self._settings_note().get("deadman")
        if settings is not None:  # last: the swarm takes an update only once the nodes are back and it has a leader
            swarm_settings.put_back(self, settings, swarm_settings.RESTORE_TIMEOUT)
            self.settings_file.unlink(missing_ok=True)
            if isinstance(pid, int) and pid != os.getpid():  # a settings dead-man heals from its own pid (exec)
                deadman.disarm(pid)
            done.append("swarm settings put back: " + ", ".join(f"{k} {v}" for k, v in settings.items()))
        return done

    # --- status -------------------------------------------------------------------------------------
    def status(self) -> list[NodeStatus]:
        """Each node as the live swarm sees it (asked of the first manager that answers)."""
        alive = {n.name: daemon.is_up(n) for n in self.plan.nodes}
        rows: dict[str, dict[str, str]] = {}
        try:
            c, nodes = answering_manager(self, timeout=5)
            c.close()
            rows = {r["name"]: r for r in node_rows(nodes)}
        except ClusterError:
            pass  # no manager answers: every node shows unknown, and the daemon column says why
        out = []
        for n in self.plan.nodes:
            r = rows.get(n.name, {})
            out.append(
                NodeStatus(
                    name=n.name, role=r.get("role", n.role), address=n.address,
                    state=r.get("state", "unknown"), availability=r.get("availability", ""),
                    manager=r.get("manager", ""), daemon=alive[n.name],
                    engine_version=r.get("engine_version") or self.state.engine_versions.get(n.name, ""),
                )
            )
        return out

    def exec_argv(self, node: str, argv: Sequence[str]) -> tuple[list[str], dict[str, str]]:
        """The command line that runs argv inside the node (its network and hostname, its dockerd)."""
        n = self.plan.node(node)
        cmd = ["nsenter", f"--net={network.NETNS_DIR / n.netns}"]
        pid = daemon.running_pid(n)
        if pid is not None:
            cmd.append(f"--uts=/proc/{pid}/ns/uts")
        env = dict(os.environ, DOCKER_HOST=n.docker_host)
        return [*cmd, *argv], env


def up(name: str = DEFAULT_NAME, nodes: int = 5, managers: int = 3, progress: Progress = _quiet,
       engine: str = engines.HOST_RELEASE) -> Lab:
    """Make the whole lab; on any failure (Ctrl-C included) take down what was made, then re-raise. `engine`:
    the Debian release whose engine every node runs, or per node (`node4=trixie,node5=trixie`)."""
    require_root()
    if load_state(name) is not None:
        raise LabError(f"lab {name!r} is already up: use it, or run `pulltheplug lab down --name {name}` first")
    require_tools()
    check_shape(nodes, managers)
    chosen = engines.parse_engines(engine, node_names(nodes))
    plan = plan_lab(name, nodes, managers, pick_subnet(network.host_networks()), engines=chosen)
    state = LabState(plan=plan, created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    return Lab(make(state, build, progress))


def make(state: LabState, build: Callable[[LabState, Progress], None], progress: Progress) -> LabState:
    """The state saved before anything exists (so `down` finds every piece from here on), then `build`; on any
    failure (Ctrl-C included) everything made is taken down, then the error re-raised. Both kinds of lab."""
    save_state(state)
    try:
        build(state, progress)
    except BaseException as exc:
        log.debug("lab %s: up failed (%s: %s), rolling back", state.plan.name, type(exc).__name__, exc)
        progress("rolling back")
        down(state.plan.name)
        raise
    return state


def down(name: str = DEFAULT_NAME, progress: Progress = _quiet) -> bool:
    """Remove everything the lab made (lab/teardown.py). Idempotent; returns whether there was anything."""
    check_name(name)  # the name becomes a cgroup and a folder to delete: nothing but a lab name may pass
    require_root()
    return teardown(name, progress)


def require_up(name: str) -> Lab:
    lab = Lab.open(name)
    if lab.state.status != "up":
        raise ClusterError(f"lab {name!r} is half made: run `pulltheplug lab down --name {name}`, then up again")
    return lab


def _heal_lock(plan: LabPlan) -> contextlib.AbstractContextManager[None]:
    """One heal at a time per lab (a dead-man may fire while `lab heal` runs)."""
    return file_lock(Path(plan.dir) / "heal.lock")
