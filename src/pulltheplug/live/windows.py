"""The worst 1 s window and the error seconds while a run goes on: the summary's headline, so far.

The summary's rules (analysis.windowed) on 10 ms bins of due time: a window is [s, s + 1 s) for s every 10 ms
from 0, judged only with at least MIN_REQUESTS requests. While the run goes, a window is judged only once every
request due in it has had its timeout to end and its record `LATE` seconds more to reach the folder (flushed
every second, read at the next poll); once the run has ended, every window is. The summary starts its windows at
the first request's due time instead of 0, so the live figure may sit a bin's worth away from the summary's.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from pulltheplug.analysis.windowed import ERROR_BIN, MIN_REQUESTS

BIN = 0.01  # seconds of due time per bin: the summary's step for a 1 s window
LIVE_WINDOW = 1.0
LATE = 1.5  # s a request's record may take after its end to reach the follower (a flush a second, a poll)
_EPS = 1e-9  # due times on a bin's edge (k / rate) fall in that bin, whatever floating point does


class LiveWindows:
    """Counts sent and ok per bin of due time; `worst(now, timeout)` is the worst settled window so far."""

    def __init__(self, window_s: float = LIVE_WINDOW) -> None:
        self.window_s = window_s
        self._sent: npt.NDArray[np.int64] = np.zeros(1024, dtype=np.int64)
        self._ok: npt.NDArray[np.int64] = np.zeros(1024, dtype=np.int64)
        self._used = 0
        self._error_bins: set[int] = set()

    def add(self, due: float, ok: bool) -> None:
        i = max(math.floor(due / BIN + _EPS), 0)
        if i >= len(self._sent):
            size = max(2 * len(self._sent), i + 1)
            self._sent = np.resize(self._sent, size)
            self._ok = np.resize(self._ok, size)
            self._sent[self._used:] = 0
            self._ok[self._used:] = 0
        self._used = max(self._used, i + 1)
        self._sent[i] += 1
        self._ok[i] += ok
        if not ok:
            self._error_bins.add(int(due // ERROR_BIN))

    @property
    def error_seconds(self) -> int:
        """1 s bins of due time with at least one failure, as the summary counts them (settled or not)."""
        return len(self._error_bins)

    def worst(self, now: float, timeout: float, ended: bool = False) -> tuple[float, float] | None:
        """(availability, window start) of the worst window whose requests have all ended and been read by
        `now` (every window, once the run has `ended`); None while no window holds MIN_REQUESTS requests. Of
        equal worst windows, the earliest."""
        wait = timeout + LATE
        read = min(math.floor((now - wait) / BIN + _EPS), self._used) if now > wait else 0
        settled = self._used if ended else read
        width = round(self.window_s / BIN)
        if settled < width:
            return None
        sent = np.concatenate(([0], np.cumsum(self._sent[:settled])))
        ok = np.concatenate(([0], np.cumsum(self._ok[:settled])))
        in_sent = sent[width:] - sent[:-width]
        in_ok = ok[width:] - ok[:-width]
        judged = in_sent >= MIN_REQUESTS
        if not judged.any():
            return None
        share = np.where(judged, in_ok / np.maximum(in_sent, 1), np.inf)
        i = int(np.argmin(share))
        return float(share[i]), i * BIN
