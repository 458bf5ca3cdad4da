"""The lab end to end: a real swarm, a real service over HTTP, and a clean host after `down`."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import docker
import pytest

from pulltheplug.lab import cgroups
from pulltheplug.lab import lab as labmod
from pulltheplug.lab.network import has_default_route
from pulltheplug.lab.state import state_path
from pulltheplug.spec import PROBE_IMAGE
from pulltheplug.swarm import workload
from tests.e2e.snapshot import host_snapshot

pytestmark = pytest.mark.lab
CLI = [sys.executable, "-m", "pulltheplug"]


def test_every_node_is_ready_and_isolated(lab: labmod.Lab) -> None:
    rows = lab.status()
    assert [r.name for r in rows] == ["node1", "node2", "node3", "node4"]
    assert all(r.state == "ready" and r.daemon and r.availability == "active" for r in rows)
    assert sorted(r.manager for r in rows if r.role == "manager") == ["leader", "reachable", "reachable"]
    assert [r.role for r in rows] == ["manager", "manager", "manager", "worker"]
    for n in lab.plan.nodes:
        assert not has_default_route(n.netns)
        # dockerd, containerd and more, all inside the node's own cgroup
        assert len(cgroups.pids(n.cgroup)) >= 2


def _first_answer(url: str) -> str:
    """The body of the first answer within 10 s ("" if none): a port opens a moment after its task runs."""
    for _ in range(40):
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                return str(resp.read().decode())
        except OSError:
            time.sleep(0.25)
    return ""


def test_replicated_service_answers_from_each_node(lab: labmod.Lab) -> None:
    c = lab.docker_client("node1")
    try:
        replicas = len(lab.nodes())  # one per node: host-mode ports, one task each
        workload.deploy_probe(c, "e2e-web", replicas=replicas, port=8081)
        workload.wait_running(c, "e2e-web", replicas)
        for node in lab.nodes():
            body = _first_answer(f"http://{node.address}:8081/")
            assert body.startswith(f"node={node.name} task=e2e-web."), body
    finally:
        workload.remove(c, "e2e-web")
        c.close()


def test_down_leaves_nothing_and_runs_twice() -> None:
    before = host_snapshot("ptpd")
    made = labmod.up("ptpd", nodes=2, managers=1)
    during = host_snapshot("ptpd")
    assert during["netns"] and during["processes"] and during["mounts"] and during["cgroups"]
    assert made.status()[0].state == "ready"
    assert labmod.down("ptpd") is True
    assert host_snapshot("ptpd") == before
    assert labmod.down("ptpd") is False
    assert host_snapshot("ptpd") == before


def test_down_after_sigkill_of_a_half_finished_up() -> None:
    before = host_snapshot("ptpk")
    proc = subprocess.Popen([*CLI, "lab", "up", "--name", "ptpk", "--nodes", "3", "--managers", "1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        # kill it once daemons are starting: namespaces, cgroups and processes exist, the swarm does not
        while not cgroups.pids("pulltheplug/ptpk") and time.monotonic() < deadline:
            time.sleep(0.02)
        assert cgroups.pids("pulltheplug/ptpk"), "up never started a daemon"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert state_path("ptpk").exists()
    down = subprocess.run([*CLI, "lab", "down", "--name", "ptpk"], capture_output=True, text=True)
    assert down.returncode == 0, down.stderr
    assert host_snapshot("ptpk") == before


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["lab", "up", "--nodes", "0"], "--nodes 0"),
        (["lab", "up", "--nodes", "2", "--managers", "3"], "--managers 3"),
        (["lab", "up", "--name", "ptpt"], "already up"),
        (["lab", "exec", "--name", "ptpt", "node9", "--", "true"], "no node 'node9'"),
        (["lab", "status", "--name", "nolab"], "no lab 'nolab'"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(lab: labmod.Lab, args: list[str], message: str) -> None:
    labs_before = sorted(p.name for p in Path("/var/lib/pulltheplug").iterdir())
    proc = subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert sorted(p.name for p in Path("/var/lib/pulltheplug").iterdir()) == labs_before


def test_not_root_is_refused() -> None:
    proc = subprocess.run(["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", *CLI, "lab", "up"],
                          capture_output=True, text=True, env={**os.environ, "HOME": "/tmp"})
    assert proc.returncode == 2
    assert "needs root" in proc.stderr


def test_heal_undoes_what_a_killed_run_left(lab: labmod.Lab) -> None:
    # what a run SIGKILLed mid-fault leaves: the fault noted, eth0 down, a node off
    lab.note_fault({"kind": "nic-down", "node": "node4", "run": "killed", "since": "now"})
    lab.set_nic("node4", False)
    lab.power_off_node("node2")
    status = subprocess.run([*CLI, "lab", "status", "--name", lab.name], capture_output=True, text=True)
    assert "fault still in place" in status.stdout and "lab heal" in status.stdout
    try:
        assert sorted(lab.heal()) == ["node2: booted", "node4: eth0 up"]
    finally:
        lab.heal()  # whatever happened, the shared lab stays whole
    assert lab.nic_is_up("node4") and lab.node_running("node2")
    assert lab.active_fault() is None
    assert lab.heal() == []


def test_a_run_on_a_service_that_does_not_exist_is_refused_at_once(lab: labmod.Lab, tmp_path: Path) -> None:
    spec = tmp_path / "spec.yaml"
    spec.write_text(f"cluster: {{lab: {lab.name}}}\nworkload: {{service: nosuch, deploy: false}}\n")
    proc = subprocess.run([*CLI, "run", str(spec), "--runs-dir", str(tmp_path / "runs")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "workload.service nosuch does not exist" in proc.stderr
    assert not (tmp_path / "runs").exists()


def test_the_probe_runs_in_any_busybox_image(lab: labmod.Lab) -> None:
    """What a Raspberry Pi cluster does with `workload.image: busybox:1.36`: the probe's script as the command.

    The lab pulls nothing, so the name is given to the local probe image on every node first.
    """
    clients = [lab.docker_client(n.name) for n in lab.nodes()]
    try:
        for c in clients:
            c.images.get(PROBE_IMAGE).tag("busybox", "1.36")
        c = clients[0]
        replicas = len(clients)
        workload.deploy_probe(c, "e2e-busybox", replicas=replicas, port=8082, image="busybox:1.36")
        workload.wait_running(c, "e2e-busybox", replicas)
        (svc,) = c.services.list(filters={"name": "e2e-busybox"})
        assert svc.attrs["Spec"]["TaskTemplate"]["ContainerSpec"]["Command"][:2] == ["/bin/sh", "-c"]
        for node in lab.nodes():
            body = _first_answer(f"http://{node.address}:8082/")
            assert body.startswith(f"node={node.name} task=e2e-busybox."), body
    finally:
        workload.remove(clients[0], "e2e-busybox")
        for c in clients:
            with contextlib.suppress(docker.errors.ImageNotFound, docker.errors.APIError):
                c.images.remove("busybox:1.36", noprune=True)
            c.close()
