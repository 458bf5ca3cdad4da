"""Outage windows: maximal runs of consecutive failed requests, per entry point and for all entries.

A window can only be known to within one request spacing, so its end is the last failure plus the
stream's spacing: that is the earliest the next (ok) request could have told us otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from pulltheplug.records.model import RequestRecord

ALL = "all"


@dataclass(frozen=True, slots=True)
class OutageWindow:
    """`open`: the stream's last request failed, so the outage was still on when the run ended."""

    entry: str
    start: float
    end: float
    duration: float
    failed: int
    first_k: int
    last_k: int
    errors: dict[str, int]
    open: bool


def error_kind(r: RequestRecord) -> str:
    return r.error or ("unknown" if r.outcome == "info" else "failed")


def longest_outage(windows: Sequence[OutageWindow]) -> float:
    return max((w.duration for w in windows), default=0.0)
