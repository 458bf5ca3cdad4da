"""The fault catalogue on the real 4-node lab (node1-3 managers, node4 a worker): each fault's evidence held
against the test's own reading (pings and UDP between node namespaces, eth0 polled, HTTP to a task), its
revert leaving nothing (no nft table, link up, engine running), and the dead-man healing a lab whose
controller was SIGKILLed mid-fault."""

from __future__ import annotations

import contextlib
import json
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path

import pytest

from pulltheplug.analysis import summarize
from pulltheplug.cluster.seam import DEADMAN_MARGIN
from pulltheplug.cluster.traffic import TABLE
from pulltheplug.errors import ClusterError
from pulltheplug.faults import make_fault
from pulltheplug.faults.base import FaultContext
from pulltheplug.lab import cgroups, daemon, flap, network
from pulltheplug.lab import lab as labmod
from pulltheplug.records.folder import load_run
from pulltheplug.run import experiment
from pulltheplug.spec import parse_spec
from pulltheplug.swarm import workload
from pulltheplug.swarm.api import API_ERRORS, answering_manager, leader_of

pytestmark = pytest.mark.lab

CLI = [sys.executable, "-m", "pulltheplug"]


def _ns(lab: labmod.Lab, node: str) -> str:
    return f"--net={network.NETNS_DIR / lab.plan.node(node).netns}"


def ping(lab: labmod.Lab, src: str | None, dst: str, count: int = 1, interval: float = 0.2) -> int:
    """Echo replies received (src None: from the controller itself)."""
    cmd = ["busybox", "ping", "-c", str(count), "-i", str(interval), "-W", "1", dst]
    if src is not None:
        cmd = ["nsenter", _ns(lab, src), *cmd]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=count * interval + 10).stdout
    m = re.search(r"(\d+) packets received", out)
    return int(m.group(1)) if m else 0


RECEIVE = ("import socket,sys; s=socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(('', int(sys.argv[1]))); "
           "s.settimeout(3); print('ready', flush=True)\ntry: print(s.recv(100).decode())\nexcept OSError: pass")
SEND = ("import socket,sys; "
        "socket.socket(socket.AF_INET, socket.SOCK_DGRAM).sendto(b'hello', (sys.argv[1], int(sys.argv[2])))")


def udp_reaches(lab: labmod.Lab, src: str, dst: str, port: int = 9999) -> bool:
    """Whether a datagram sent from src arrives at dst (a listener in dst's namespace)."""
    listener = subprocess.Popen(["nsenter", _ns(lab, dst), sys.executable, "-c", RECEIVE, str(port)],
                                stdout=subprocess.PIPE, text=True)
    assert listener.stdout is not None and listener.stdout.readline().strip() == "ready"
    subprocess.run(["nsenter", _ns(lab, src), sys.executable, "-c", SEND, lab.node(dst).address, str(port)],
                   timeout=10, check=True)
    out, _ = listener.communicate(timeout=10)
    return "hello" in out


def tables(lab: labmod.Lab) -> list[str]:
    return [n.name for n in lab.plan.nodes if network.nft_table(n, TABLE) is not None]


def context(lab: labmod.Lab, service: str = "", with_task: list[str] | None = None) -> FaultContext:
    return FaultContext(lab.nodes(), None, service, 1, with_task or [])


def test_partition_isolate_cuts_the_node_from_the_others_but_not_from_clients(lab: labmod.Lab) -> None:
    spec = parse_spec("fault: {kind: partition, target: node4}\n").fault
    fault = make_fault("partition", lab, "node4", 5, spec, context(lab))
    try:
        evidence = fault.inject()
        assert evidence["node4"]["drop_rules"] == 6 and evidence["node1"]["drop_rules"] == 2
        assert ping(lab, "node4", lab.node("node1").address) == 0
        assert ping(lab, "node2", lab.node("node4").address) == 0
        assert ping(lab, None, lab.node("node4").address) == 1  # the controller, a client, still reaches it
        assert ping(lab, "node1", lab.node("node2").address) == 1  # the others still talk
    finally:
        fault.revert()
    assert tables(lab) == []
    assert ping(lab, "node4", lab.node("node1").address) == 1


def test_partition_one_way_the_target_sends_but_hears_nothing(lab: labmod.Lab) -> None:
    spec = parse_spec("fault: {kind: partition, target: node4, partition: {shape: one-way}}\n").fault
    fault = make_fault("partition", lab, "node4", 5, spec, context(lab))
    try:
        assert fault.inject()["node4"]["drop_rules"] == 3
        assert tables(lab) == ["node4"]
        assert udp_reaches(lab, "node4", "node1")
        assert not udp_reaches(lab, "node1", "node4")
    finally:
        fault.revert()
    assert tables(lab) == []
    assert udp_reaches(lab, "node1", "node4")


def test_loss_drops_about_its_share_each_way(lab: labmod.Lab) -> None:
    spec = parse_spec("fault: {kind: loss, target: node3, loss: 50}\n").fault
    fault = make_fault("loss", lab, "node3", 5, spec, context(lab))
    try:
        fault.inject()
        got = ping(lab, None, lab.node("node3").address, count=200, interval=0.01)
    finally:
        fault.revert()
    # a request and its reply each survive with p = 0.5: about 25% come back (200 pings: 3 sigma is +-9%)
    assert 0.12 * 200 <= got <= 0.40 * 200, got
    assert tables(lab) == []
    assert ping(lab, None, lab.node("node3").address, count=20, interval=0.01) == 20


def test_flap_takes_the_link_down_each_period_then_leaves_it_up(lab: labmod.Lab) -> None:
    spec = parse_spec("fault: {kind: flap, target: node4, flap: {period: 1s, down: 400ms}}\n").fault
    fault = make_fault("flap", lab, "node4", 3, spec, context(lab))
    seen: list[bool] = []
    try:
        fault.inject()
        deadline = time.monotonic() + 3.3
        while time.monotonic() < deadline:
            seen.append(lab.nic_is_up("node4"))
            time.sleep(0.02)
    finally:
        evidence = fault.revert()
    downs = sum(1 for a, b in zip([True, *seen], seen, strict=False) if a and not b)
    assert downs == 3 and evidence["downs"] == 3, (downs, evidence)
    assert 0.25 <= seen.count(False) / len(seen) <= 0.55  # down 400 ms of every 1 s
    assert lab.nic_is_up("node4") and not cgroups.pids(flap.cgroup(lab.plan))


def test_engine_crash_leaves_the_task_answering_then_the_engine_restarts(lab: labmod.Lab) -> None:
    c, _ = answering_manager(lab)
    try:
        workload.deploy_probe(c, "e2e-crash", 4, 8095, max_replicas_per_node=1)
        workload.wait_running(c, "e2e-crash", 4, 60)
    finally:
        c.close()
    url = f"http://{lab.node('node4').address}:8095/"
    fault = make_fault("engine-crash", lab, "node4", 5, None, context(lab))
    try:
        evidence = fault.inject()
        assert not daemon.is_up(lab.plan.node("node4")) and evidence["processes_left"] > 0
        assert sorted(k.split()[0] for k in evidence["killed"]) == ["containerd", "dockerd"]
        with urllib.request.urlopen(url, timeout=2) as answer:  # the container outlives its engine
            assert answer.status == 200 and b"node=node4" in answer.read()
    finally:
        back = fault.revert()
    assert back["daemon_running"] and daemon.is_up(lab.plan.node("node4"))
    deadline = time.monotonic() + 90
    while not lab.is_whole() and time.monotonic() < deadline:
        time.sleep(1)
    assert lab.is_whole()
    c, _ = answering_manager(lab)
    try:
        workload.wait_running(c, "e2e-crash", 4, 60)
    finally:
        workload.remove(c, "e2e-crash")
        c.close()


TASK_KILL = """
name: e2e-task-kill
cluster: {lab: ptpt}
workload: {service: e2e-tk, port: 8096, replicas: 4, max_replicas_per_node: 1, remove_after: true}
load: {rate: 50, timeout: 500ms}
fault: {kind: task-kill, target: node4, duration: 6s}
phases: {steady: 2s, settle: 2s, timeout: 60s}
"""


def test_task_kill_only_the_killed_task_fails_and_swarm_replaces_it(lab: labmod.Lab, tmp_path: Path) -> None:
    folder = experiment.execute(parse_spec(TASK_KILL), TASK_KILL, lab, tmp_path)
    run = load_run(folder)
    s = summarize(run)
    assert s.status == "complete" and s.phases.converged is not None and s.fault.start is not None
    injected = next(e for e in run.events if e.type == "fault" and e.data["action"] == "injected")
    killed = injected.data["evidence"]["killed"]
    assert len(killed) == 1 and killed[0].startswith("e2e-tk.")
    failed = [r for r in run.requests if r.was_sent and r.outcome != "ok"]
    assert failed and {r.target for r in failed} == {"node4"}
    # Swarm's replacement (another task id) answered on node4 before the run ended
    later = [r for r in run.requests if r.outcome == "ok" and r.node == "node4" and r.due > max(f.due for f in failed)]
    assert later and later[0].task is not None and later[0].task not in killed[0]


QUORUM = """
name: e2e-quorum
cluster: {lab: ptpt}
workload: {service: e2e-probe, port: 8090}
load: {rate: 50, timeout: 500ms}
fault: {kind: quorum-loss, target: leader, duration: 4s}
phases: {steady: 2s, settle: 2s, timeout: 150s}
"""


def test_quorum_loss_powers_off_a_majority_and_the_swarm_elects_again_by_itself(lab: labmod.Lab,
                                                                             tmp_path: Path) -> None:
    polls: list[tuple[float, bool]] = []  # the test's own reading: does any manager name a leader?
    stop = threading.Event()

    def poll() -> None:
        while not stop.is_set():
            try:
                c, nodes = answering_manager(lab, timeout=2)
                c.close()
                polls.append((time.monotonic(), leader_of(nodes) is not None))
            except (ClusterError, *API_ERRORS):  # no manager answering is a reading too
                polls.append((time.monotonic(), False))
            stop.wait(0.5)

    poller = threading.Thread(target=poll, daemon=True)
    poller.start()
    try:
        folder = experiment.execute(parse_spec(QUORUM), QUORUM, lab, tmp_path)
    finally:
        stop.set()
        poller.join(10)
    run = load_run(folder)
    s = summarize(run)
    lost = run.meta.fault["lost"]
    assert len(lost) == 2 and lost[0] == run.meta.cluster["leader_at_start"]
    assert s.status == "complete" and s.phases.converged is not None  # back without --force-new-cluster
    t0 = run.meta.t0_monotonic
    fault_at, revert_at = run.meta.phases["fault"] + t0, run.meta.phases["revert"] + t0
    assert not any(ok for t, ok in polls if fault_at + 1.0 < t < revert_at)  # no leader while the majority was off
    assert any(ok for t, ok in polls if t > revert_at)
    assert lab.is_whole()


def wait_until(done: Callable[[], bool], timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def _frozen(lab: labmod.Lab) -> list[str]:
    return [n.name for n in lab.plan.nodes if cgroups.is_frozen(n.cgroup)]


def _off(lab: labmod.Lab) -> list[str]:
    return [n.name for n in lab.plan.nodes if not daemon.is_up(n)]


def _links_down(lab: labmod.Lab) -> list[str]:
    return [n.name for n in lab.plan.nodes if not lab.nic_is_up(n.name)]


# every kind with something to revert (task-kill has none): several at once on different nodes, as a schedule
KILLED_MID_FAULT = {
    "partition": ("fault: {kind: partition, target: node4, duration: 3s}", 1,
                  lambda lab: tables(lab) == ["node1", "node2", "node3", "node4"]),
    "engine-crash+power-loss": (
        "schedule: [{kind: engine-crash, target: node4, duration: 3s}, {kind: power-loss, target: node3, "
        "duration: 3s}]", 2, lambda lab: _off(lab) == ["node3", "node4"]),
    "loss+flap+freeze+nic-down": (
        "schedule: [{kind: loss, target: node1, duration: 3s, loss: 30}, {kind: flap, target: node2, duration: 3s, "
        "flap: {period: 1s, down: 500ms}}, {kind: freeze, target: node3, duration: 3s}, "
        "{kind: nic-down, target: node4, duration: 3s}]", 4,
        lambda lab: tables(lab) == ["node1"] and _frozen(lab) == ["node3"] and "node4" in _links_down(lab)),
    "quorum-loss+reboot": (  # a graceful stop takes a few seconds: a longer fault, so it is seen off
        "schedule: [{kind: quorum-loss, target: node1, duration: 8s}, {kind: reboot, target: node4, duration: 8s}]",
        2, lambda lab: len(_off(lab)) == 3 and "node1" in _off(lab) and "node4" in _off(lab)),
}


@pytest.mark.parametrize("case", list(KILLED_MID_FAULT))
def test_a_controller_killed_mid_fault_leaves_a_lab_the_dead_man_heals(lab: labmod.Lab, tmp_path: Path,
                                                                       case: str) -> None:
    faults, count, broken = KILLED_MID_FAULT[case]
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"cluster: {{lab: ptpt}}\nworkload: {{service: e2e-probe, port: 8090}}\n{faults}\n"
                    "phases: {steady: 1s}\nload: {rate: 20}\n")
    cmd = [*CLI, "run", "--runs-dir", str(tmp_path), "--name", "e2e-kill", str(spec)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        injected_at = None
        while time.monotonic() < deadline and injected_at is None:
            time.sleep(0.1)
            for f in tmp_path.glob("*-e2e-kill/events.jsonl"):
                with contextlib.suppress(ValueError):
                    events = [json.loads(x) for x in f.read_text().splitlines() if x.strip()]
                    if sum(1 for e in events if e.get("action") == "inject") == count:
                        injected_at = time.monotonic()
        assert injected_at is not None, "the faults were never all injected"
        # kill once every fault took effect, as the test sees it (a power cut's "injected" waits until its killed
        # daemons are reaped, and this test process, which made the lab, is their parent, not init)
        seen = wait_until(lambda: broken(lab), 6.0)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        assert lab.active_fault() is not None
        assert seen, ("the faults were not in place when the controller died", _off(lab), tables(lab),
                      _frozen(lab), _links_down(lab))
        length = 8 if "duration: 8s" in faults else 3
        # the dead-man fires the faults' length plus its margin after it was armed, then heals
        deadline = injected_at + length + DEADMAN_MARGIN + 30
        while lab.active_fault() is not None and time.monotonic() < deadline:
            time.sleep(0.5)
        assert lab.active_fault() is None, "the dead-man did not heal the lab"
        assert time.monotonic() - injected_at >= length + DEADMAN_MARGIN - 1
        assert tables(lab) == [] and _off(lab) == [] and _frozen(lab) == [] and _links_down(lab) == []
        assert not cgroups.pids(flap.cgroup(lab.plan))
        while not lab.is_whole() and time.monotonic() < deadline + 90:
            time.sleep(1)
        assert lab.is_whole()
    finally:
        if proc.poll() is None:
            proc.kill()
        lab.heal()  # whatever happened, the shared lab stays whole


@pytest.mark.parametrize(("fault", "message"), [
    ("{kind: partition, target: node4, partition: {shape: managers-split}}", "node4 is not a manager"),
    ("{kind: partition, partition: {shape: groups, groups: [[node1], [node7]]}}", "node7 not in the cluster"),
    ("{kind: quorum-loss, target: node4}", "node4 is not a manager"),
    ("{kind: loss, loss: 120}", "less than or equal to 100"),
])
def test_a_fault_the_cluster_cannot_take_is_one_line_exit_2_and_nothing_injected(lab: labmod.Lab, tmp_path: Path,
                                                                                fault: str, message: str) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"cluster: {{lab: ptpt}}\nworkload: {{service: e2e-probe, port: 8090}}\nfault: {fault}\n")
    proc = subprocess.run([*CLI, "run", "--runs-dir", str(tmp_path / "runs"), str(spec)], capture_output=True,
                          text=True, timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and message in lines[0], proc.stderr
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())
    assert tables(lab) == [] and lab.active_fault() is None
