"""Analysis: pure functions from a run's history to a Summary (no I/O beyond records.folder.load_run)."""

from __future__ import annotations

from pathlib import Path

from pulltheplug.analysis.availability import Availability, availability
from pulltheplug.analysis.control_plane import ControlPlaneWindow, control_plane_windows
from pulltheplug.analysis.latency import Percentiles, client_lag, latency_tables, percentiles
from pulltheplug.analysis.outages import ALL, OutageWindow, longest_outage, outage_windows, request_spacing
from pulltheplug.analysis.outcomes import Outcomes, errors_by_kind, outcome_counts
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
    "availability",
    "client_lag",
    "control_plane_windows",
    "errors_by_kind",
    "fault_start",
    "latency_tables",
    "longest_outage",
    "outage_windows",
    "outcome_counts",
    "percentiles",
    "phases_of",
    "request_spacing",
    "summarize",
    "summarize_folder",
    "time_to_detect",
    "time_to_recover",
]
