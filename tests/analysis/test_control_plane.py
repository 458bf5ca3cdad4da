"""Control-plane windows: from unavailable to available again, or open at the end of the run."""

from __future__ import annotations

import pytest

from pulltheplug.analysis import control_plane_windows
from tests.analysis.history import control_plane, node


def test_windows_closed_and_left_open() -> None:
    events = [
        control_plane(0.5, True),
        control_plane(11.0, False, error="timeout"),
        control_plane(11.5, False, error="refused"),  # still down: the same window
        control_plane(14.0, True),
        control_plane(25.0, False, error="no leader"),
    ]
    windows = control_plane_windows(events, run_end=30.0)

    assert [(w.start, w.end, w.open) for w in windows] == [(11.0, 14.0, False), (25.0, 30.0, True)]
    assert windows[0].duration == pytest.approx(3.0)
    assert windows[0].error == "timeout"
    assert windows[1].manager == "node1"


def test_no_control_plane_events_no_windows() -> None:
    assert control_plane_windows([node(1.0, "node1", "ready")], run_end=10.0) == []
