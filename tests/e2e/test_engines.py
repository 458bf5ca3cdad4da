"""Engines side by side: a mixed swarm of Debian 12's Docker 20.10 and Debian 13's Docker 26.1 forms and
serves, and a worker's engine upgraded under load comes back Ready with the new version, held against what the
node's own engine says through its own socket."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from pulltheplug.analysis import summarize
from pulltheplug.lab import lab as labmod
from pulltheplug.lab.daemon import API_VERSION
from pulltheplug.records.events import FaultEvent, of_type
from pulltheplug.records.folder import load_run
from pulltheplug.run import experiment
from pulltheplug.spec import parse_spec
from pulltheplug.swarm.api import answering_manager, node_rows
from pulltheplug.swarm.health import wait_whole

pytestmark = pytest.mark.lab

NAME = "ptpeng"
OLD, NEW = "20.10.", "26.1."  # the versions of bookworm's and trixie's docker.io

UPGRADE = """
name: e2e-upgrade
cluster: {lab: ptpeng}
workload: {service: e2e-up, port: 8091, replicas: 3}
load: {rate: 50, timeout: 500ms}
fault: {kind: engine-upgrade, target: node3, duration: 0s, upgrade: {to: trixie, drain: true, rolling: true}}
phases: {steady: 3s, settle: 3s, timeout: 120s}
"""


def own_version(lab: labmod.Lab, node: str) -> str:
    """The version the node's engine gives through its own socket (not the swarm's view of it)."""
    client = docker.DockerClient(base_url=lab.plan.node(node).docker_host, version=API_VERSION, timeout=10)
    with contextlib.closing(client):
        return str(client.version()["Version"])


@pytest.fixture(scope="module")
def mixed() -> Iterator[labmod.Lab]:
    """node1 (manager) and node3 (worker) on bookworm's engine, node2 (worker) on trixie's."""
    labmod.down(NAME)
    made = labmod.up(NAME, nodes=3, managers=1, engine="node2=trixie")
    try:
        yield made
    finally:
        labmod.down(NAME)


def test_a_mixed_swarm_forms_and_each_node_runs_the_engine_asked(mixed: labmod.Lab) -> None:
    versions = {n: own_version(mixed, n) for n in ("node1", "node2", "node3")}
    assert versions["node2"].startswith(NEW), versions
    assert versions["node1"].startswith(OLD) and versions["node3"].startswith(OLD), versions
    client, nodes = answering_manager(mixed)
    client.close()
    rows = {r["name"]: r for r in node_rows(nodes)}
    assert {n: (r["state"], r["engine_version"]) for n, r in rows.items()} == \
        {n: ("ready", v) for n, v in versions.items()}
    assert {r.name: r.engine_version for r in mixed.status()} == versions  # what `lab status` shows
    described = {n["name"]: n for n in mixed.describe()["nodes"]}  # type: ignore[union-attr]
    assert [described[n]["engine"] for n in ("node1", "node2", "node3")] == ["bookworm", "trixie", "bookworm"]


def test_a_rolling_upgrade_under_load_brings_each_node_back_ready_on_the_new_engine(mixed: labmod.Lab,
                                                                                   tmp_path: Path) -> None:
    """node3 (a worker, drained first), then node1 (the manager and leader); node2 already runs trixie's engine
    and is left alone."""
    assert own_version(mixed, "node3").startswith(OLD) and own_version(mixed, "node1").startswith(OLD)
    folder = experiment.execute(parse_spec(UPGRADE), UPGRADE, mixed, tmp_path)
    run = load_run(folder)
    summary = summarize(run)
    assert summary.status == "complete" and summary.phases.converged is not None, run.meta.error
    (injected,) = [e for e in of_type(run.events, FaultEvent) if e.action == "injected"]
    evidence = injected.evidence or {}
    assert evidence["order"] == ["node3", "node1"], evidence  # node2 skipped: already on the release
    for node in ("node3", "node1"):
        steps = evidence[node]
        assert steps["version_before"].startswith(OLD) and steps["version_after"].startswith(NEW), steps
        assert steps["ready_after"] > steps["stopped_after"] > 0
        assert own_version(mixed, node) == steps["version_after"]  # the node's own engine, read by the test
    assert 0 <= evidence["node3"]["tasks_gone_after"] < 60  # drained: its task left before its engine stopped
    assert wait_whole(mixed, 60.0)  # every node Ready, its engine running, the manager reachable
    rows = {r.name: r for r in mixed.status()}
    assert all(r.availability == "active" for r in rows.values()), rows  # drained nodes made active again
    assert {n: r.engine_version[:5] for n, r in rows.items()} == dict.fromkeys(("node1", "node2", "node3"), NEW)
    again = labmod.Lab.open(NAME)  # and the lab remembers it (state file): a reboot boots the new engine
    assert [n.engine for n in again.plan.nodes] == ["trixie"] * 3
    # what users felt: served again after the last node was back
    assert summary.recover.requests_healthy_after_fault_start is not None
