"""The VM lab, end to end: QEMU machines with kernels of their own, the swarm formed over SSH, and the faults
that need a kernel of their own (reboot, a power cut through QMP, the sysrq crash, the systemd-run dead-man) run
for real through the SSH backend. Each is held against what the test reads itself: boot_ids and link states over
plain `ssh`, the machine's state from its own monitor.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

import pulltheplug
from pulltheplug.lab import lab as labmod
from pulltheplug.lab.state import LabState, load_state
from pulltheplug.spec import ClusterSpec
from pulltheplug.ssh.cluster import SshCluster
from pulltheplug.ssh.qmp import run_state
from pulltheplug.vmlab import lab as vmlab
from pulltheplug.vmlab import machine

pytestmark = pytest.mark.vm

LAB = "vmt"
CLI = [sys.executable, "-m", "pulltheplug"]
ENV = {**os.environ, "PYTHONPATH": str(Path(pulltheplug.__file__).parents[1]), "COLUMNS": "200"}


@pytest.fixture(scope="module")
def vms() -> Iterator[LabState]:
    """A 3-machine VM lab (1 manager, 2 workers), taken down whatever happens (PTP_KEEP_VM_LAB=1 keeps it, and
    reuses one left up, for a developer's repeated runs)."""
    keep = os.environ.get("PTP_KEEP_VM_LAB") == "1"
    state = load_state(LAB) if keep else None
    if state is not None and state.kind == "vm" and state.status == "up":
        yield state
        return
    labmod.down(LAB)
    try:
        yield vmlab.up(LAB, nodes=3, managers=1)
    finally:
        if not keep:
            labmod.down(LAB)


def ssh(state: LabState, node: str, command: str, timeout: float = 20.0) -> str:
    """A command on a machine over plain OpenSSH (the lab's key, its known_hosts, strict checking)."""
    proc = subprocess.run(vmlab.ssh_argv(state, node, [command]), capture_output=True, text=True,
                          timeout=timeout, check=False)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def answers(state: LabState, node: str) -> bool:
    """Whether the machine answers SSH within 2 s."""
    argv = vmlab.ssh_argv(state, node, ["true"])
    try:
        return subprocess.run([argv[0], "-o", "ConnectTimeout=2", *argv[1:]], capture_output=True, timeout=5,
                              check=False).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def boot_id(state: LabState, node: str) -> str:
    return ssh(state, node, "cat /proc/sys/kernel/random/boot_id")


def test_the_lab_is_a_swarm_of_machines_with_kernels_of_their_own(vms: LabState) -> None:
    rows = vmlab.status(LAB)
    assert [(r.name, r.role, r.state, r.daemon) for r in rows] == [
        ("node1", "manager", "ready", True), ("node2", "worker", "ready", True), ("node3", "worker", "ready", True)]
    ids = {n: boot_id(vms, n) for n in ("node1", "node2", "node3")}
    mine = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert len(set(ids.values())) == 3 and mine not in ids.values()
    assert ssh(vms, "node2", "hostname") == "node2"
    assert ssh(vms, "node1", "docker node ls --format '{{.Hostname}} {{.Status}}' | sort") == \
        "node1 Ready\nnode2 Ready\nnode3 Ready"
    assert ssh(vms, "node3", "docker image ls --format '{{.Repository}}'") != ""  # the probe, loaded, not pulled
    assert ssh(vms, "node2", "ip route show default") == ""  # no way out of the lab
    assert len(vmlab.known_hosts_path(vms.plan).read_text().splitlines()) == 3  # host keys made before boot
    shown = subprocess.run([*CLI, "lab", "status", "--name", LAB, "--json"], capture_output=True, text=True,
                           env=ENV, check=True)
    status = json.loads(shown.stdout)
    assert status["kind"] == "vm" and [n["state"] for n in status["nodes"]] == ["ready"] * 3


RUN_SPEC = """
name: vm-{name}
cluster: {{kind: lab, lab: {lab}}}
workload: {{service: vm-probe, port: 8092, entry: nodes}}
load: {{rate: 50, timeout: 1s}}
schedule:
  - {{kind: reboot, target: node2, at: 0s, duration: 1s}}
  - {{kind: power-loss, target: node3, at: 0s, duration: 8s}}
phases: {{steady: 3s, settle: 3s, timeout: 300s}}
"""


def test_a_reboot_and_a_power_cut_over_ssh_restart_the_machines(vms: LabState, tmp_path: Path) -> None:
    """node2 reboots (systemctl reboot), node3's power is cut through QMP and restored: each comes back with
    another boot_id, and node3's monitor said it was off while the run said so."""
    from pulltheplug.records.events import FaultEvent
    from pulltheplug.records.folder import load_run

    before = {n: boot_id(vms, n) for n in ("node2", "node3")}
    spec = tmp_path / "spec.yaml"
    spec.write_text(RUN_SPEC.format(name="machines", lab=LAB))
    states: list[tuple[float, str]] = []
    done = threading.Event()

    def watch() -> None:
        qmp = machine.files(vms.plan.node("node3")).qmp
        while not done.is_set():
            states.append((time.monotonic(), run_state(qmp, 1.0)))
            time.sleep(0.2)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        proc = subprocess.run([*CLI, "run", str(spec), "--runs-dir", str(tmp_path / "runs")], env=ENV,
                              capture_output=True, text=True, timeout=600, check=False)
    finally:
        done.set()
        watcher.join()
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    run = load_run(next((tmp_path / "runs").glob("*-vm-machines")))
    assert run.meta.status == "complete" and run.meta.cluster["kind"] == "ssh"
    steps = {(e.node, e.action): e for e in run.events if isinstance(e, FaultEvent)}
    assert steps[("node2", "reverted")].evidence is not None
    assert steps[("node2", "reverted")].evidence["boot_id_changed"] is True
    assert steps[("node3", "injected")].evidence == {"driver": "qemu", "answer": "off", "engine_answering": False}
    after = {n: boot_id(vms, n) for n in ("node2", "node3")}
    assert all(after[n] != before[n] for n in after)  # as the test reads it itself
    off = [t for t, s in states if s == "off"]
    assert off, "node3's monitor never said off"
    # off from the cut (sent at "inject"; "injected" once the engine stopped answering) to the power-on that
    # follows the revert, as the machine's own monitor said it (polled every 0.2 s, each poll up to 1 s)
    sent = steps[("node3", "inject")].t + run.meta.t0_monotonic
    confirmed = steps[("node3", "injected")].t + run.meta.t0_monotonic
    back = steps[("node3", "revert")].t + run.meta.t0_monotonic
    assert sent - 0.2 <= off[0] <= confirmed + 1.2, (off[0], sent, confirmed)
    assert back - 1.2 <= off[-1] <= back + 3.0, (off[-1], back)
    assert states[-1][1] == "running"


def test_a_power_loss_without_a_driver_is_a_sysrq_crash_and_the_machine_restarts(vms: LabState,
                                                                                tmp_path: Path) -> None:
    data = yaml.safe_load(vmlab.inventory_path(vms.plan).read_text())
    del data["hosts"]["node2"]["power"]
    bare = tmp_path / "inventory.yaml"
    bare.write_text(yaml.safe_dump(data))
    before = boot_id(vms, "node2")
    cluster = SshCluster(ClusterSpec(kind="ssh", hosts=bare, known_hosts=vmlab.known_hosts_path(vms.plan)),
                         ["power-loss"], ["node2"])
    try:
        crashed = cluster.power_off("node2")
        assert crashed["action"] == "crash" and crashed["session_lost"] is True, crashed
        back = cluster.boot("node2")
    finally:
        cluster.sessions.close()
    assert back["boot_id_changed"] is True
    assert boot_id(vms, "node2") != before
    assert run_state(machine.files(vms.plan.node("node2")).qmp) == "running"  # the same QEMU: a reset, not a cut


def test_the_systemd_run_dead_man_brings_the_link_back_after_the_controller_is_killed(vms: LabState,
                                                                                      tmp_path: Path) -> None:
    controller = tmp_path / "controller.py"
    controller.write_text(textwrap.dedent(f"""
        from pathlib import Path
        from pulltheplug.ssh import deadman
        from pulltheplug.ssh.inventory import load_inventory
        from pulltheplug.ssh.session import Sessions, SshOptions
        with Sessions(load_inventory(Path({str(vmlab.inventory_path(vms.plan))!r})),
                      SshOptions(known_hosts=Path({str(vmlab.known_hosts_path(vms.plan))!r}))) as sessions:
            node = sessions["node3"]
            node.connect()
            print("connected", flush=True)
            node.run(deadman.nic_down(node.host, "eth0", 8, "systemd-run"), 30)
    """))
    proc = subprocess.Popen([sys.executable, str(controller)], stdout=subprocess.PIPE, text=True, env=ENV)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "connected"
        deadline = time.monotonic() + 15
        while answers(vms, "node3") and time.monotonic() < deadline:
            time.sleep(0.2)
        cut_seen = time.monotonic()
        assert not answers(vms, "node3"), "node3 still answers: its link never went down"
        os.kill(proc.pid, signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait(10)
    deadline = time.monotonic() + 60
    while not answers(vms, "node3") and time.monotonic() < deadline:  # nobody left to revert it but the node
        time.sleep(0.5)
    assert answers(vms, "node3"), "the dead-man never brought node3's link back"
    assert time.monotonic() - cut_seen > 4  # the 8 s cut ran its course (less the polling's lag)
    assert ssh(vms, "node3", "cat /sys/class/net/eth0/operstate") == "up"


def test_a_freeze_pauses_the_whole_machine_and_its_dead_man_resumes_it(vms: LabState, tmp_path: Path) -> None:
    """Freeze on a QEMU machine is QMP stop: kernel, sshd and engine hang alike. The run's thaw resumes it; left
    alone, the controller-side dead-man does, the fault's length and a margin later."""
    qmp = machine.files(vms.plan.node("node2")).qmp
    cluster = SshCluster(vmlab.cluster_spec(vms), ["freeze"], ["node2"])
    try:
        assert cluster.arm_revert("node2", "freeze", 3.0)["deadman"] == "resume"
        assert cluster.freeze("node2", 3.0) == {"machine": "paused"}
        assert not answers(vms, "node2")  # nothing answers in a paused machine, not even sshd
        assert cluster.thaw("node2") == {"machine": "running"}
        assert answers(vms, "node2")
        cluster.arm_revert("node2", "freeze", 1.0)
        cluster.freeze("node2", 1.0)
        paused_at = time.monotonic()
        assert run_state(qmp) == "paused"
        while run_state(qmp) == "paused" and time.monotonic() - paused_at < 60:  # nobody thaws it here
            time.sleep(0.2)
        assert run_state(qmp) == "running" and time.monotonic() - paused_at >= 1.0
    finally:
        cluster.heal()
        cluster.sessions.close()
    assert answers(vms, "node2")


def test_the_vip_moves_when_its_holder_loses_power(vms: LabState) -> None:
    """keepalived on the machines themselves (config and state in /run on each, a transient systemd unit): the
    holder's power cut through QMP, another machine takes the address, as `ip addr` on it says."""
    from pulltheplug.doors.vrrp import VipDoor, default_vip, takeover_bound
    from pulltheplug.spec import VipSpec

    vip = default_vip(vms.plan.subnet)
    settings = VipSpec(address=vip, advert_int=1.0, router_id=61)
    cluster = SshCluster(vmlab.cluster_spec(vms), ["power-loss"], [])
    door = None
    try:
        door = VipDoor(cluster, cluster.nodes(), 8092, "/", settings).start(timeout=60)
        holder = door.holder()
        assert holder is not None
        assert vip in ssh(vms, holder, "ip -4 -o addr show eth0")
        assert ssh(vms, holder, "systemctl is-active pulltheplug-keepalived-ptp.service") == "active"
        cut = time.monotonic()
        cluster.power_off(holder)
        assert run_state(machine.files(vms.plan.node(holder)).qmp) == "off"
        taken = None
        while time.monotonic() - cut < 30 and taken is None:
            states = door.backends()
            masters = [n for n, s in states.items() if s["state"] == "master" and n != holder]
            taken = masters[0] if masters else None
            time.sleep(0.2)
        assert taken is not None, door.backends()
        assert time.monotonic() - cut <= takeover_bound(settings) + 15  # the cut's own confirmation included
        assert vip in ssh(vms, taken, "ip -4 -o addr show eth0")  # the address moved, as the machine says
        assert door.backends()[holder]["state"] == "unknown"  # a host without power says nothing
        cluster.boot(holder)
    finally:
        if door is not None:
            door.close()
        cluster.heal()
        cluster.sessions.close()
    for node in ("node1", "node2", "node3"):  # nothing left on the machines
        assert ssh(vms, node, "ls /run/pulltheplug/vip 2>/dev/null | wc -l; ip -4 -o addr show eth0 | "
                   f"grep -c {vip} || true") == "0\n0"


def test_an_engine_crash_keeps_the_engine_down_until_the_revert_or_its_dead_man(vms: LabState) -> None:
    """SIGKILL to dockerd and containerd, their units stopped so systemd's Restart= and socket activation do not
    bring them back early; the machine itself runs on (same boot_id)."""
    before = boot_id(vms, "node3")
    cluster = SshCluster(vmlab.cluster_spec(vms), ["engine-crash"], ["node3"])
    try:
        assert cluster.arm_revert("node3", "engine-crash", 5.0)["deadman"] == "engine-start"
        crashed = cluster.crash_engine("node3")
        assert crashed["engine_answering"] is False and crashed["exit"] == 0
        time.sleep(3.0)  # longer than docker.service's RestartSec: nothing restarted it
        assert ssh(vms, "node3", "systemctl is-active docker.service containerd.service || true") == \
            "inactive\ninactive"
        assert cluster.start_engine("node3")["engine_answering"] is True
        assert ssh(vms, "node3", "systemctl is-active docker.service") == "active"
        cluster.arm_revert("node3", "engine-crash", 1.0)  # now left to the dead-man: 1 s + its margin
        cluster.crash_engine("node3")
        left = time.monotonic()
        while ssh(vms, "node3", "systemctl is-active docker.service || true") != "active":
            assert time.monotonic() - left < 60, "the dead-man never started the engine"
            time.sleep(0.5)
        assert time.monotonic() - left >= 1.0
    finally:
        cluster.heal()
        cluster.sessions.close()
    assert boot_id(vms, "node3") == before  # an engine crash, not a machine restart
