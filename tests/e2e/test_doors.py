"""Front doors on the real lab: HAProxy at the lab's edge routes around a node whose NIC is cut.

The figures of the run are held against the test's own readings: eth0 polled in the node's namespace
(when the fault really began) and HAProxy's stats socket polled by the test (when HAProxy really marked the
node down), each every 0.1 s on the monotonic clock the run's records use.
"""

from __future__ import annotations

import contextlib
import subprocess
import threading
import time
from pathlib import Path
from typing import Self

import pytest

from pulltheplug.analysis import summarize
from pulltheplug.doors.haproxy import parse_stat, show_stat
from pulltheplug.lab import cgroups
from pulltheplug.lab import lab as labmod
from pulltheplug.lab.network import NETNS_DIR
from pulltheplug.records.folder import load_run
from pulltheplug.run import experiment
from pulltheplug.spec import parse_spec

pytestmark = pytest.mark.lab

FAULT = 6.0
TIMEOUT = 0.5  # the load's request timeout
SPEC = f"""
name: e2e-door-haproxy
cluster: {{lab: ptpt}}
workload:
  service: e2e-door
  port: 8091
  remove_after: true
  entry: {{kind: haproxy, haproxy: {{inter: 500ms, fall: 2, rise: 2, connect_timeout: 500ms}}}}
load: {{rate: 100, timeout: {TIMEOUT}s}}
fault: {{kind: nic-down, target: node2, duration: {FAULT}s}}
phases: {{steady: 3s, settle: 3s, timeout: 60s}}
"""
POLL = 0.1
# HAProxy's DOWN as the run recorded it (observer interval 0.25 s) vs as the test read it (every 0.1 s)
DOOR_EDGE = 0.25 + POLL + 0.05


class Poller:
    """A reading taken by the test itself every `interval` on a thread of its own, while a run goes on."""

    interval = POLL

    def __init__(self) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def sample(self) -> None:
        raise NotImplementedError

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(5)


class Readings(Poller):
    """node2's eth0 and HAProxy's view of node2, polled until stopped: (monotonic time, value)."""

    def __init__(self, lab: labmod.Lab) -> None:
        self.netns = lab.plan.node("node2").netns
        self.socket = Path(lab.plan.dir) / "edge" / "haproxy.sock"
        self.eth0: list[tuple[float, bool]] = []
        self.door: list[tuple[float, str]] = []
        super().__init__()

    def sample(self) -> None:
        out = subprocess.run(["ip", "-n", self.netns, "-o", "link", "show", "eth0"], capture_output=True,
                             text=True, check=False).stdout
        self.eth0.append((time.monotonic(), ",UP" in out.split(">")[0]))
        with contextlib.suppress(OSError, ValueError, KeyError):
            self.door.append((time.monotonic(), parse_stat(show_stat(self.socket, 0.5))["node2"]["state"]))


def test_haproxy_routes_around_a_cut_node_within_its_check_timing(lab: labmod.Lab, tmp_path: Path) -> None:
    spec = parse_spec(SPEC)
    with Readings(lab) as seen:
        folder = experiment.execute(spec, SPEC, lab, tmp_path)
    run = load_run(folder)
    s = summarize(run)
    assert s.status == "complete" and s.phases.converged is not None and s.fault.start is not None
    d = s.door
    assert d is not None and d.kind == "haproxy" and d.node == "node2" and d.down_bound == pytest.approx(2.0)
    t0 = run.meta.t0_monotonic

    # the fault's start is when eth0 went down (the test's own reading)
    cut = min(t for t, up in seen.eth0 if not up) - t0
    assert abs(cut - s.fault.start) <= 0.3, (cut, s.fault.start)

    # HAProxy marked node2 down: as recorded, as read by the test, and within what its settings allow
    assert d.routed_around_after_fault_start is not None
    marked = s.fault.start + d.routed_around_after_fault_start
    read = min(t for t, state in seen.door if state == "down" and t - t0 > cut) - t0
    assert abs(marked - read) <= DOOR_EDGE, (marked, read)
    assert d.down_bound is not None and d.routed_around_after_fault_start <= d.down_bound + 0.3, d

    # what users felt through the door: errors only until the door routed around node2, far less than the
    # fault; none at all while it was marked down (the other nodes served everything)
    assert d.errors_after_fault_start > 0
    assert d.last_error_after_fault_start is not None
    assert d.last_error_after_fault_start <= d.routed_around_after_fault_start + TIMEOUT + 0.1, d
    assert d.last_error_after_fault_start < FAULT / 2
    revert = s.phases.revert
    assert revert is not None
    during = [r for r in run.requests if marked + TIMEOUT < r.due < revert]
    assert during and all(r.outcome == "ok" and r.node != "node2" for r in during)
    assert s.longest_outage < 1.0  # no window of consecutive failures: the others kept answering
    assert any(e.type == "door" and e.data.get("backend") == "node2" and e.data["state"] == "down"
               for e in run.events)
    assert run.meta.door["kind"] == "haproxy" and run.meta.entries == {"haproxy": "http://"
                                                                       f"{run.meta.door['address']}:8091/"}

    # nothing of the door is left: no HAProxy in the edge's cgroup, no edge namespace
    assert cgroups.pids(f"{lab.plan.cgroup}/edge") == []
    assert not (NETNS_DIR / f"ptp-{lab.name}-edge").exists()


VIP_SPEC = f"""
name: e2e-door-vip
cluster: {{lab: ptpt}}
workload:
  service: e2e-door
  port: 8091
  remove_after: true
  entry: {{kind: vip, vip: {{advert_int: 1s}}}}
load: {{rate: 100, timeout: {TIMEOUT}s}}
fault: {{kind: nic-down, target: door, duration: {FAULT}s}}
phases: {{steady: 3s, settle: 3s, timeout: 60s}}
"""


class Holders(Poller):
    """Which node namespaces have the VIP on their eth0, polled every 0.1 s by the test: (monotonic, nodes)."""

    def __init__(self, lab: labmod.Lab, vip: str) -> None:
        self.lab = lab
        self.vip = vip
        self.seen: list[tuple[float, frozenset[str]]] = []
        super().__init__()

    def sample(self) -> None:
        at = time.monotonic()
        holders = frozenset(n.name for n in self.lab.plan.nodes if f" {self.vip}/" in subprocess.run(
            ["ip", "-n", n.netns, "-o", "-4", "addr", "show", "eth0"], capture_output=True, text=True,
            check=False).stdout)
        self.seen.append((at, holders))


def test_a_vip_moves_off_a_cut_holder_within_vrrp_timing(lab: labmod.Lab, tmp_path: Path) -> None:
    from pulltheplug.doors.vrrp import default_vip

    vip = default_vip(lab.plan.subnet)
    with Holders(lab, vip) as holders:
        folder = experiment.execute(parse_spec(VIP_SPEC), VIP_SPEC, lab, tmp_path)
    run = load_run(folder)
    s = summarize(run)
    assert s.status == "complete" and s.phases.converged is not None and s.fault.start is not None
    d = s.door
    assert d is not None and d.kind == "vip" and d.down_bound == pytest.approx(4.0)
    t0 = run.meta.t0_monotonic
    # the fault hit the node that held the VIP at the start, as the test saw it too
    old = run.meta.door["holder_at_start"]
    assert old == d.node == run.meta.fault["node"]
    assert next(h for t, h in holders.seen if t - t0 > 0 and h) == {old}

    # another node took the address: as recorded (keepalived's notify) and as the namespaces show it
    assert d.routed_around_after_fault_start is not None and d.down_bound is not None
    taken = s.fault.start + d.routed_around_after_fault_start
    read = min(t for t, h in holders.seen if t - t0 > s.fault.start and h and old not in h) - t0
    assert abs(taken - read) <= DOOR_EDGE, (taken, read)
    assert d.routed_around_after_fault_start <= d.down_bound + 0.3, d

    # users behind the VIP: one outage, from the cut until the new holder answered, well within the fault
    assert s.longest_outage <= d.routed_around_after_fault_start + TIMEOUT + 0.3, (s.longest_outage, d)
    assert s.longest_outage < FAULT
    revert = s.phases.revert
    assert revert is not None
    during = [r for r in run.requests if taken + TIMEOUT < r.due < revert]
    assert during and all(r.outcome == "ok" and r.node != old for r in during)
    assert d.back_after_revert is not None  # the old holder rejoined the group

    # nothing of the door is left: no keepalived in any node's cgroup, no VIP on any node
    for n in lab.plan.nodes:
        assert not any(Path(f"/proc/{pid}/comm").read_text().strip() == "keepalived"
                       for pid in cgroups.pids(n.cgroup) if Path(f"/proc/{pid}/comm").exists())
    for n in lab.plan.nodes:  # a stopped keepalived removes the address it held
        out = subprocess.run(["ip", "-n", n.netns, "-o", "-4", "addr", "show", "eth0"], capture_output=True,
                             text=True, check=True).stdout
        assert f" {vip}/" not in out, (n.name, out)


def test_a_node_service_dies_with_the_node_and_starts_again_at_boot(lab: labmod.Lab) -> None:
    """What keepalived relies on: a node's service lives in the node's cgroup and network namespace."""
    def service_pids() -> list[int]:
        pids = []
        for p in cgroups.pids(lab.plan.node("node4").cgroup):
            with contextlib.suppress(OSError):
                if Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")[:2] == [b"sleep", b"1000"]:
                    pids.append(p)
        return pids

    def one_pid() -> list[int]:
        deadline = time.monotonic() + 5  # the service's shell joins the cgroup, then execs
        while len(found := service_pids()) != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        return found

    try:
        lab.node_service("node4", "sleeper", ["sleep", "1000"])
        first = one_pid()
        assert len(first) == 1
        node_ns = (NETNS_DIR / lab.plan.node("node4").netns).stat().st_ino
        assert Path(f"/proc/{first[0]}/ns/net").stat().st_ino == node_ns
        lab.power_off("node4")
        assert service_pids() == []
        lab.boot("node4")
        again = one_pid()
        assert len(again) == 1 and again != first
        lab.node_service("node4", "sleeper", None)
        assert service_pids() == []
        assert "sleeper" not in labmod.Lab.open(lab.name).state.services.get("node4", {})
    finally:
        lab.node_service("node4", "sleeper", None)
        if not lab.node_running("node4"):
            lab.boot("node4")
    assert labmod.Lab.open(lab.name).state.services.get("node4", {}) == {}


RESCHEDULE_FAULT = 30.0  # Swarm marks a silent node Down after ~15-20 s (dispatcher heartbeat 5 s)
RESCHEDULE_SPEC = f"""
name: e2e-door-reschedule
cluster: {{lab: ptpt}}
workload:
  service: e2e-resched
  port: 8093
  replicas: 3
  max_replicas_per_node: 1
  remove_after: true
  entry: {{kind: haproxy, haproxy: {{inter: 500ms, fall: 2, rise: 2, connect_timeout: 500ms}}}}
load: {{rate: 50, timeout: {TIMEOUT}s}}
fault: {{kind: nic-down, target: {{target}}, duration: {RESCHEDULE_FAULT}s}}
phases: {{steady: 3s, settle: 3s, timeout: 90s}}
"""


def test_fewer_replicas_than_nodes_a_replacement_task_takes_traffic_through_the_door(lab: labmod.Lab,
                                                                                      tmp_path: Path) -> None:
    from pulltheplug.swarm import workload
    from pulltheplug.swarm.api import answering_manager, leader_of, node_rows

    c, swarm_nodes = answering_manager(lab)
    try:
        workload.deploy_probe(c, "e2e-resched", 3, 8093, max_replicas_per_node=1)
        workload.wait_running(c, "e2e-resched", 3, 60)
        names = {r["id"]: r["name"] for r in node_rows(swarm_nodes)}
        serving = sorted(names[i] for i in workload.task_node_ids(c, "e2e-resched"))
        leader = leader_of(swarm_nodes)
    finally:
        c.close()
    spare = next(n.name for n in lab.plan.nodes if n.name not in serving)
    target = next(n for n in serving if n != leader)  # a follower: the control plane keeps its leader
    spec_text = RESCHEDULE_SPEC.replace("{target}", target)
    folder = experiment.execute(parse_spec(spec_text), spec_text, lab, tmp_path)
    run = load_run(folder)
    s = summarize(run)
    assert s.status == "complete" and s.phases.converged is not None and s.fault.start is not None
    assert run.meta.workload["replicas"] == 3 and run.meta.workload["max_replicas_per_node"] == 1
    d = s.door
    assert d is not None and d.routed_around_after_fault_start is not None and d.down_bound is not None
    assert d.routed_around_after_fault_start <= d.down_bound + 0.3, d
    # Swarm scheduled the lost replica on the spare node during the fault, and the door sent it traffic
    # once its health checks passed (rise 2 x inter 0.5 s, plus a poll)
    running = s.recover.replicas_running_after_fault_start
    assert running is not None and running < RESCHEDULE_FAULT, s.recover
    assert d.new_task_served_after_fault_start is not None
    # the spare node's replacement answered through the door; Swarm may replace another task too (seen once in
    # CI), so the figure is the first new task's answer, wherever it runs, and never later than the spare's
    served = [r for r in run.requests if r.outcome == "ok" and r.node == spare and r.due >= s.fault.start]
    assert served and min(r.due for r in served) >= s.fault.start + d.new_task_served_after_fault_start - 1e-6
    assert running - 0.5 <= d.new_task_served_after_fault_start <= running + 2 * 0.5 + 0.5 + 1.0, (running, d)


def test_straight_to_the_nodes_only_the_nodes_with_a_task_are_entries(lab: labmod.Lab, tmp_path: Path) -> None:
    text = """
name: e2e-entries
cluster: {lab: ptpt}
workload: {service: e2e-two, port: 8094, replicas: 2, max_replicas_per_node: 1, remove_after: true}
load: {rate: 20, timeout: 500ms}
fault: {kind: none}
phases: {steady: 2s, settle: 1s, timeout: 30s}
"""
    folder = experiment.execute(parse_spec(text), text, lab, tmp_path)
    run = load_run(folder)
    assert run.meta.status == "complete" and len(run.meta.entries) == 2
    assert all(r.outcome == "ok" for r in run.requests if r.was_sent)


def test_mesh_without_ip_vs_is_one_line_exit_2_and_nothing_deployed(lab: labmod.Lab, tmp_path: Path) -> None:
    import os
    import sys

    import pulltheplug
    from pulltheplug.swarm.api import answering_manager

    if Path("/proc/net/ip_vs").exists():
        pytest.skip("this kernel has IP_VS: the mesh is not refused here")
    spec = tmp_path / "mesh.yaml"
    spec.write_text("cluster: {lab: ptpt}\nworkload: {service: e2e-mesh, port: 8095, entry: mesh}\n"
                    "fault: {kind: none}\n")
    env = {**os.environ, "PYTHONPATH": str(Path(pulltheplug.__file__).parents[1]), "COLUMNS": "200"}
    proc = subprocess.run([sys.executable, "-m", "pulltheplug", "run", str(spec), "--runs-dir", str(tmp_path)],
                          capture_output=True, text=True, timeout=120, env=env)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "entry mesh" in lines[0] and "IP_VS" in lines[0], proc.stderr
    c, _ = answering_manager(lab)
    try:
        assert not c.services.list(filters={"name": "e2e-mesh"})
    finally:
        c.close()
    assert not list(tmp_path.glob("*-experiment"))  # no run folder either


DNS_FAULT = 12.0  # Swarm's DNS forgot the cut node's task after ~5 s here (gossip), before Swarm saw the node lost
DNS_SPEC = f"""
name: e2e-door-dns
cluster: {{lab: ptpt}}
workload: {{service: e2e-dns, port: 8097, remove_after: true, entry: service-dns}}
load: {{rate: 50, timeout: {TIMEOUT}s}}
fault: {{kind: nic-down, target: node2, duration: {DNS_FAULT}s}}
phases: {{steady: 3s, settle: 3s, timeout: 90s}}
"""


class DnsReadings(Poller):
    """Swarm's DNS asked by the test itself from the client container's namespace: (monotonic, addresses)."""

    interval = 0.25

    def __init__(self, lab: labmod.Lab) -> None:
        self.lab = lab
        self.netns: str | None = None
        self.seen: list[tuple[float, int]] = []
        super().__init__()

    def _client_netns(self) -> str | None:
        c = self.lab.docker_client("node4")
        try:
            found = c.containers.list(filters={"label": "pulltheplug=client"})
            return f"/proc/{found[0].attrs['State']['Pid']}/ns/net" if found else None
        finally:
            c.close()

    def sample(self) -> None:
        self.netns = self.netns or self._client_netns()
        if self.netns is not None:
            out = subprocess.run(["nsenter", f"--net={self.netns}", "busybox", "nslookup", "e2e-dns", "127.0.0.11"],
                                 capture_output=True, text=True, check=False).stdout
            if out:
                self.seen.append((time.monotonic(), len([ln for ln in out.splitlines()[2:]
                                                         if ln.startswith("Address")])))


def test_from_inside_the_swarm_dns_forgets_a_lost_task(lab: labmod.Lab, tmp_path: Path) -> None:
    with DnsReadings(lab) as dns_seen:
        folder = experiment.execute(parse_spec(DNS_SPEC), DNS_SPEC, lab, tmp_path)
    run = load_run(folder)
    s = summarize(run)
    assert s.status == "complete" and s.fault.start is not None
    assert run.meta.entries == {"service-dns": "http://e2e-dns:80/"} and run.meta.door["client_node"] == "node4"
    served = {r.node for r in run.requests if r.outcome == "ok" and r.due < s.fault.start}
    assert served == {"node1", "node2", "node3", "node4"}  # every task, reached by name over the overlay
    d = s.door
    assert d is not None and d.routed_around_after_fault_start is not None
    # the DNS forgot node2's task during the fault, and the test's own lookups saw it at the same time
    assert d.routed_around_after_fault_start < DNS_FAULT, d
    t0 = run.meta.t0_monotonic
    counts = [(t - t0, n) for t, n in dns_seen.seen]
    before = max(n for t, n in counts if t < s.fault.start)
    forgot = min(t for t, n in counts if t > s.fault.start and n < before)
    assert abs(forgot - (s.fault.start + d.routed_around_after_fault_start)) <= 1.0, (forgot, d)
    forgotten_at = s.fault.start + d.routed_around_after_fault_start
    revert = s.phases.revert
    assert revert is not None
    after = [r for r in run.requests if forgotten_at + TIMEOUT + 0.5 < r.due < revert]
    assert after and all(r.outcome == "ok" for r in after)  # nobody was sent to the dead task any more
    c = lab.docker_client("node4")
    try:
        assert not c.containers.list(all=True, filters={"label": "pulltheplug=client"})
    finally:
        c.close()
