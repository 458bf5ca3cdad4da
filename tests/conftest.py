"""Shared fixtures: one real lab per test session for the end-to-end tests, always taken down."""

from __future__ import annotations

import logging
import os
import warnings
from collections.abc import Iterator

import pytest

from pulltheplug.errors import ClusterError
from pulltheplug.lab import lab as labmod
from pulltheplug.swarm.api import API_ERRORS, answering_manager, node_rows
from pulltheplug.swarm.health import wait_whole
from pulltheplug.swarm.workload import task_node_ids, wait_answering

E2E_LAB = "ptpt"
# s a lab test waits for the shared lab to be whole: a follower back from a NIC cut leaves the managers without
# an agreed leader for up to half a minute (the seed's campaign here), a power-lossed node boots for ~20 s
HEAL = 180.0
SERVE = 60.0  # s the probe services left by earlier tests get to answer again where their tasks run

log = logging.getLogger(__name__)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="end-to-end lab tests need root")
    for item in items:
        if "lab" in item.keywords or "vm" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def lab() -> Iterator[labmod.Lab]:
    """A 4-node lab (3 managers: leader faults keep a quorum; 1 worker), shared by the e2e tests of one session."""
    labmod.down(E2E_LAB)  # a previous run killed hard may have left it
    made = labmod.up(E2E_LAB, nodes=4, managers=3)
    try:
        yield made
    finally:
        labmod.down(E2E_LAB)


@pytest.fixture(autouse=True)
def whole_lab(request: pytest.FixtureRequest) -> None:
    """Before each test that uses the shared lab: the lab whole (every node Ready, every manager reachable,
    a leader), else rebuilt, as a campaign does between runs: one test's aftermath must not fail the next."""
    if "lab" not in request.fixturenames:
        return
    made: labmod.Lab = request.getfixturevalue("lab")
    if not wait_whole(made, HEAL):
        log.warning("lab %s not whole within %.0f s before %s: rebuilding it", made.name, HEAL, request.node.name)
        made.rebuild()
    elif (silent := silent_probes(made, SERVE)) is not None:
        # the tests share their probe services: one left running where it cannot answer would refuse every
        # later run on it. Said in the session's warnings summary, for whoever reads the CI output
        warnings.warn(f"lab {made.name} before {request.node.name}: {silent}: rebuilding it", stacklevel=1)
        made.rebuild()


def silent_probes(made: labmod.Lab, timeout: float) -> str | None:
    """None when every probe service answers on every node Swarm says runs its task; else which do not, and
    what those nodes' engines say of their containers."""
    try:
        c, nodes = answering_manager(made)
    except ClusterError as exc:
        return str(exc)
    try:
        names = {r["id"]: r["name"] for r in node_rows(nodes)}
        address = {n.name: n.address for n in made.nodes()}
        entries: dict[str, str] = {}
        for svc in c.services.list(filters={"label": "pulltheplug=probe"}):
            ports = [p["PublishedPort"] for p in svc.attrs.get("Endpoint", {}).get("Ports", []) or []
                     if p.get("PublishMode") == "host"]
            for node in filter(None, map(names.get, task_node_ids(c, svc.name))):
                entries |= {f"{svc.name}@{node}": f"http://{address[node]}:{port}/" for port in ports}
    except API_ERRORS as exc:
        return f"the services were not read: {type(exc).__name__}: {exc}"
    finally:
        c.close()
    try:
        wait_answering(entries, timeout)
    except ClusterError as exc:
        seen = []
        for key in entries:
            service, node = key.split("@")
            if f"{key} (" in str(exc):
                seen.append(f"{node}'s containers of {service}: {containers(made, node, service)}")
        return f"{exc}; {'; '.join(seen)}"
    return None


def containers(made: labmod.Lab, node: str, service: str) -> str:
    try:
        client = made.docker_client(node)
        try:
            found = client.containers.list(all=True, filters={"label": f"com.docker.swarm.service.name={service}"})
            return ", ".join(f"{x.name} {x.status} {x.attrs['State'].get('Error', '')}".strip() for x in found)
        finally:
            client.close()
    except API_ERRORS as exc:
        return f"engine did not say ({type(exc).__name__}: {exc})"
