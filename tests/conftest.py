"""Shared fixtures: one real lab per test session for the end-to-end tests, always taken down."""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator

import pytest

from pulltheplug.campaign import wait_whole
from pulltheplug.lab import lab as labmod

E2E_LAB = "ptpt"
# s a lab test waits for the shared lab to be whole: a follower back from a NIC cut leaves the managers without
# an agreed leader for up to half a minute (the seed's campaign here), a power-lossed node boots for ~20 s
HEAL = 180.0

log = logging.getLogger(__name__)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.geteuid() == 0:
        return
    skip = pytest.mark.skip(reason="end-to-end lab tests need root")
    for item in items:
        if "lab" in item.keywords:
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
