"""Reading a run folder while the run writes it: new records, and meta.json when it changes.

The run flushes every event as it happens and the requests every second (records/folder.py), so a reader that
polls sees each event within a poll and each request within a second; a line (or an Arrow stream) still
being written waits until it is whole.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import IO, Any

from pulltheplug.errors import RunError
from pulltheplug.live.state import LiveState
from pulltheplug.records.arrow import REQUESTS_ARROW, read_batches
from pulltheplug.records.folder import load_meta
from pulltheplug.records.model import EVENTS, META, REQUESTS

log = logging.getLogger(__name__)


class _Tail:
    """One JSON-lines file, from where the last read stopped."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._f: IO[bytes] | None = None
        self._rest = b""

    def lines(self) -> list[dict[str, Any]]:
        if self._f is None:
            if not self.path.exists():
                return []
            self._f = open(self.path, "rb")  # noqa: SIM115 - closed in close()
        data = self._rest + self._f.read()
        *whole, self._rest = data.split(b"\n")
        out = []
        for line in whole:
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError as exc:  # not a record: skipped, as load_run does
                log.debug("%s: a line skipped (%s)", self.path, exc)
        return out

    def close(self) -> None:
        if self._f is not None:
            self._f.close()


class _ArrowTail:
    """requests.arrow, from the end of the last whole stream read."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0

    def lines(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        batches, self._offset = read_batches(self.path, self._offset)
        return [row for batch in batches for row in batch.to_pylist()]

    def close(self) -> None:
        pass


class Follower:
    """Feeds a `LiveState` from a run folder; `poll` takes what was written since the last poll."""

    def __init__(self, folder: Path, state: LiveState | None = None) -> None:
        self.folder = folder
        self.state = state or LiveState()
        older = (folder / REQUESTS).exists()  # a run folder from before requests.arrow
        self._requests: _Tail | _ArrowTail = _Tail(folder / REQUESTS) if older else _ArrowTail(folder / REQUESTS_ARROW)
        self._events = _Tail(folder / EVENTS)
        self._meta_stamp: float | None = None

    def poll(self) -> bool:
        """True when anything new was read."""
        new = self._read_meta()
        for d in self._events.lines():
            self.state.add_event(d)
            new = True
        for d in self._requests.lines():
            self.state.add_request(d)
            new = True
        return new

    def _read_meta(self) -> bool:
        path = self.folder / META
        try:
            stamp = path.stat().st_mtime_ns
        except FileNotFoundError:
            return False
        if stamp == self._meta_stamp:
            return False
        try:
            self.state.meta = load_meta(self.folder)
        except RunError as exc:  # replaced while read: the next poll reads it whole
            log.debug("meta.json not read yet: %s", exc)
            return False
        self._meta_stamp = stamp
        return True

    def close(self) -> None:
        self._requests.close()
        self._events.close()
