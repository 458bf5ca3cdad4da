"""Shared fixtures: one real lab per test session for the end-to-end tests, always taken down."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from pulltheplug.lab import lab as labmod

E2E_LAB = "ptpt"


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
