"""Availability = ok / due, overall, per phase (by due time), per entry, and per entry and phase."""

from __future__ import annotations

import pytest

from pulltheplug.analysis import Phases
from tests.analysis.history import failing, stream
from tests.oracles import availability

PHASES = Phases(steady=0.0, fault=10.0, revert=20.0, end=30.0)


def test_availability_per_entry_and_phase() -> None:
    requests = stream(200.0, 30.0, fail=failing("node3", 12.0, 14.0, kind="timeout"))
    a = availability(requests, PHASES)

    assert a.by_entry["node1"] == a.by_entry["node2"] == 1.0
    assert a.by_entry["node3"] == pytest.approx(1 - 2 / 30, abs=1e-3)
    assert a.overall == pytest.approx(1 - 2 / 90, abs=1e-3)
    assert a.by_phase["steady"] == a.by_phase["recovery"] == 1.0
    assert a.by_phase["fault"] == pytest.approx(1 - 2 / 30, abs=1e-3)
    assert a.by_entry_phase["node3"]["fault"] == pytest.approx(0.8, abs=1e-3)
    assert a.by_entry_phase["node3"]["steady"] == 1.0
    assert a.by_entry_phase["node1"]["fault"] == 1.0
    assert a.faulted == pytest.approx(1 - 2 / 60, abs=1e-3)  # the fault and recovery phases, 10-30 s


def test_phase_of_a_request_is_its_due_time() -> None:
    assert PHASES.of(9.999) == "steady"
    assert PHASES.of(10.0) == "fault"
    assert PHASES.of(20.0) == "recovery"
    never_reverted = Phases(steady=0.0, fault=10.0, revert=None, end=30.0)
    assert never_reverted.of(29.0) == "fault"
    no_fault = Phases(steady=0.0, fault=None, revert=None, end=30.0)
    assert no_fault.of(29.0) == "steady"


def test_empty_slices_are_none_not_zero() -> None:
    a = availability(stream(200.0, 5.0), PHASES)  # requests only in the steady phase
    assert a.by_phase == {"steady": 1.0, "fault": None, "recovery": None}
    empty = availability([], PHASES)
    assert empty.overall is None
    assert empty.by_entry == {}
