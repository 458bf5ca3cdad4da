"""Analysis: pure functions from a run's history to a Summary (no I/O beyond records.folder.load_run)."""

from __future__ import annotations

from pathlib import Path

from pulltheplug.analysis.availability import Availability
from pulltheplug.analysis.control_plane import ControlPlaneWindow, control_plane_windows
from pulltheplug.analysis.latency import Percentiles, percentiles
from pulltheplug.analysis.outages import ALL, OutageWindow, longest_outage
from pulltheplug.analysis.outcomes import Outcomes
from pulltheplug.analysis.phases import PHASES, Phases, fault_start, phases_of
from pulltheplug.analysis.summary import FaultInfo, Summary, summarize
from pulltheplug.analysis.timings import Detection, Recovery, time_to_detect, time_to_recover
from pulltheplug.records.folder import load_run


def summarize_folder(folder: Path) -> Summary:
    """Read a run folder and summarize it."""
    return summarize(load_run(folder, columnar=True))


__all__ = [
    "ALL",
    "PHASES",
    "Availability",
    "ControlPlaneWindow",
    "Detection",
    "FaultInfo",
    "OutageWindow",
    "Outcomes",
    "Percentiles",
    "Phases",
    "Recovery",
    "Summary",
    "control_plane_windows",
    "fault_start",
    "longest_outage",
    "percentiles",
    "phases_of",
    "summarize",
    "summarize_folder",
    "time_to_detect",
    "time_to_recover",
]
