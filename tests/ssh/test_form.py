"""`pulltheplug cluster form|leave` over real SSH into lab nodes, read back through each daemon's own lab socket.

One 4-node lab (sshd in each node); the inventory names no roles, so form's default makes node1-3 managers
and node4 the worker. The steps share the lab and run in order: form on a formed swarm changes nothing,
leave empties every daemon, a host in another swarm stops form before anything changed, --force forms it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

import pulltheplug
from pulltheplug.lab import lab as labmod
from pulltheplug.swarm.api import node_rows
from tests.ssh import sshd

pytestmark = pytest.mark.lab

LAB = "sshf"
NODES = ["node1", "node2", "node3", "node4"]
ENV = {**os.environ, "PYTHONPATH": str(Path(pulltheplug.__file__).parents[1]), "COLUMNS": "200"}


@pytest.fixture(scope="module")
def formed_lab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[labmod.Lab, sshd.SshdLab]]:
    labmod.down(LAB)
    lab = labmod.up(LAB, nodes=4, managers=3)
    started: sshd.SshdLab | None = None
    try:
        started = sshd.start(lab, tmp_path_factory.mktemp("sshd"))
        yield lab, started
    finally:
        if started is not None:
            started.stop()
        labmod.down(LAB)


def cli(nodes: sshd.SshdLab, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pulltheplug", *args, str(nodes.inventory), "--known-hosts",
                           str(nodes.known_hosts)], capture_output=True, text=True, timeout=240, env=ENV)


def swarm_of(lab: labmod.Lab, node: str) -> dict[str, Any]:
    """The daemon's own word, through the lab's socket (not through SSH)."""
    c = lab.docker_client(node)
    try:
        return dict(c.info()["Swarm"])
    finally:
        c.close()


def rows_of(lab: labmod.Lab, node: str) -> dict[str, dict[str, str]]:
    c = lab.docker_client(node)
    try:
        return {r["name"]: r for r in node_rows(c.api.nodes())}
    finally:
        c.close()


def tokens_of(lab: labmod.Lab, node: str) -> list[str]:
    c = lab.docker_client(node)
    try:
        found = c.swarm.attrs["JoinTokens"]
        return [found["Manager"], found["Worker"]]
    finally:
        c.close()


def test_form_leave_refuse_and_force(formed_lab: tuple[labmod.Lab, sshd.SshdLab]) -> None:
    lab, nodes = formed_lab
    cluster_id = swarm_of(lab, "node1")["Cluster"]["ID"]

    # 1. the lab's swarm is already what the inventory asks for: kept as it is
    proc = cli(nodes, "cluster", "form", "--json")
    assert proc.returncode == 0, proc.stderr
    said = json.loads(proc.stdout)
    assert said["founder"] == "node1" and said["steps"] == dict.fromkeys(NODES, "keep")
    assert swarm_of(lab, "node1")["Cluster"]["ID"] == cluster_id

    # 2. every host leaves: workers, then managers demoted one by one, the leader last
    proc = cli(nodes, "cluster", "leave")
    assert proc.returncode == 0, proc.stderr
    assert {n: swarm_of(lab, n)["LocalNodeState"] for n in NODES} == dict.fromkeys(NODES, "inactive")
    assert "the swarm is gone" in proc.stdout

    # 3. node4 founds a swarm of its own: form refuses in one line, and no host was touched
    c = lab.docker_client("node4")
    try:
        c.swarm.init(advertise_addr=lab.node("node4").address, listen_addr=f"{lab.node('node4').address}:2377")
    finally:
        c.close()
    proc = cli(nodes, "cluster", "form")
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "host node4 is already in another swarm" in lines[0] and "--force" in lines[0]
    assert [swarm_of(lab, n)["LocalNodeState"] for n in NODES[:3]] == ["inactive"] * 3

    # 4. with --force node4 leaves its swarm and joins the new one; every node Ready in its role
    proc = cli(nodes, "--debug", "cluster", "form", "--force")
    assert proc.returncode == 0, proc.stderr
    rows = rows_of(lab, "node1")
    assert {n: (rows[n]["role"], rows[n]["state"]) for n in NODES} == {
        "node1": ("manager", "ready"), "node2": ("manager", "ready"), "node3": ("manager", "ready"),
        "node4": ("worker", "ready")}
    assert {rows[n]["manager"] for n in NODES[:3]} <= {"leader", "reachable"}
    for n in NODES:  # each advertises its eth0 address, the one a nic-down takes down
        assert rows[n]["addr"] == lab.node(n).address
    assert swarm_of(lab, "node4")["NodeID"] == rows["node4"]["id"]
    for token in tokens_of(lab, "node1"):
        assert token not in proc.stdout and token not in proc.stderr


def test_a_host_without_docker_is_one_line_exit_2(formed_lab: tuple[labmod.Lab, sshd.SshdLab],
                                                   tmp_path: Path) -> None:
    """node2's docker socket path points nowhere: the forward fails, before any daemon was changed."""
    lab, nodes = formed_lab
    proc = cli(nodes, "cluster", "form")  # whatever the earlier tests left (one failed: no swarm), a formed swarm
    assert proc.returncode == 0, proc.stderr
    before = swarm_of(lab, "node1")["Cluster"]["ID"]
    broken = tmp_path / "hosts.yaml"
    data = yaml.safe_load(nodes.inventory.read_text())
    data["hosts"]["node2"]["docker_socket"] = "/nonexistent/docker.sock"
    broken.write_text(yaml.safe_dump(data))
    proc = subprocess.run([sys.executable, "-m", "pulltheplug", "cluster", "form", str(broken), "--known-hosts",
                           str(nodes.known_hosts)], capture_output=True, text=True, timeout=120, env=ENV)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "node2" in lines[0] and "docker_socket" in lines[0], proc.stderr
    assert swarm_of(lab, "node1")["Cluster"]["ID"] == before



def test_one_manager_leaves_and_form_takes_it_back(formed_lab: tuple[labmod.Lab, sshd.SshdLab]) -> None:
    """A manager leaves alone: demoted first (the others keep their quorum), removed from the node list."""
    lab, nodes = formed_lab
    proc = cli(nodes, "cluster", "form")  # whatever the earlier tests left, a formed swarm
    assert proc.returncode == 0, proc.stderr
    proc = cli(nodes, "cluster", "leave", "--host", "node3")
    assert proc.returncode == 0, proc.stderr
    assert swarm_of(lab, "node3")["LocalNodeState"] == "inactive"
    rows = rows_of(lab, "node1")
    assert "node3" not in rows
    assert sorted(rows[n]["manager"] for n in ("node1", "node2")) in (["leader", "reachable"],
                                                                      ["reachable", "leader"])
    proc = cli(nodes, "cluster", "form", "--json")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["steps"]["node3"] == "join"
    rows = rows_of(lab, "node1")
    assert (rows["node3"]["role"], rows["node3"]["state"]) == ("manager", "ready")
