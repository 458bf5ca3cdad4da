"""Control-plane outages: spans when the observer could not get an answer from any manager."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pulltheplug.records.events import ControlPlaneEvent, Event, of_type


@dataclass(frozen=True, slots=True)
class ControlPlaneWindow:
    """`open`: still unavailable when the run ended, so `end` is the run's end, not a recovery."""

    start: float
    end: float
    duration: float
    manager: str | None
    error: str | None
    open: bool


def _window(first: ControlPlaneEvent, end: float, is_open: bool) -> ControlPlaneWindow:
    end = max(end, first.t)
    return ControlPlaneWindow(
        start=first.t,
        end=end,
        duration=end - first.t,
        manager=first.manager,
        error=first.error,
        open=is_open,
    )


def control_plane_windows(events: Sequence[Event], run_end: float) -> list[ControlPlaneWindow]:
    """From each `available: false` to the next `available: true` (or to `run_end`, flagged open)."""
    windows: list[ControlPlaneWindow] = []
    down: ControlPlaneEvent | None = None
    for e in of_type(events, ControlPlaneEvent):
        available = e.available
        if not available and down is None:
            down = e
        elif available and down is not None:
            windows.append(_window(down, e.t, is_open=False))
            down = None
    if down is not None:
        windows.append(_window(down, run_end, is_open=True))
    return windows
