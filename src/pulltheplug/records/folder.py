"""A run folder, written as the run goes (`RunWriter`: every record on disk at once) and read back (`load_run`),
requests as Arrow (records/arrow.py) or, in older folders, JSON lines."""

from __future__ import annotations

import dataclasses
import json
import logging
import threading
from dataclasses import asdict
from pathlib import Path

from pulltheplug.errors import RunError
from pulltheplug.records.arrow import REQUESTS_ARROW, ArrowRequests, read_columns
from pulltheplug.records.columns import RequestColumns
from pulltheplug.records.events import Event, event_from_dict, event_to_dict
from pulltheplug.records.model import (
    EVENTS,
    META,
    REQUESTS,
    SPEC,
    JsonLines,
    Meta,
    RequestRecord,
    Run,
    read_lines,
)

log = logging.getLogger(__name__)


class RunWriter:
    """The run folder being written: every record goes to disk at once."""

    def __init__(self, folder: Path, meta: Meta, spec_text: str) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=False)
        (folder / SPEC).write_text(spec_text)
        self.meta = meta
        self.write_meta()
        self._requests = ArrowRequests(folder / REQUESTS_ARROW)
        self._events = JsonLines(folder / EVENTS)
        self._lock = threading.Lock()  # events come from the run, the observer and fault threads
        self._seq = 0

    def request(self, r: RequestRecord) -> None:
        self._requests.write(r)

    def flush(self) -> None:
        """Write the requests kept since the last flush now (they go every second anyway)."""
        self._requests.flush()

    def event(self, e: Event) -> Event:
        """Write one event, numbered with the run's next id; the event as written."""
        with self._lock:
            self._seq += 1
            e = dataclasses.replace(e, seq=self._seq)
            self._events.write(event_to_dict(e))
        return e

    def write_meta(self) -> None:
        tmp = self.folder / (META + ".tmp")
        tmp.write_text(json.dumps(asdict(self.meta), indent=2))
        tmp.replace(self.folder / META)

    def close(self) -> None:
        self._requests.close()
        self._events.close()
        self.write_meta()


def load_meta(folder: Path) -> Meta:
    """The run folder's meta.json alone (cheap: no records read); RunError for a folder that is not a run."""
    meta_path = folder / META
    if not meta_path.exists():
        raise RunError(f"{folder} is not a run folder (no {META}): give the folder `pulltheplug run` made")
    try:
        return Meta(**json.loads(meta_path.read_text()))
    except (ValueError, TypeError) as exc:
        raise RunError(f"{meta_path} is unreadable: {exc}") from exc


def load_run(folder: Path, columnar: bool = False) -> Run:
    """The run folder's records; with `columnar`, the requests as columns only (see Run)."""
    meta = load_meta(folder)
    requests: list[RequestRecord] = []
    columns = None
    if (folder / REQUESTS_ARROW).exists():
        columns = read_columns(folder / REQUESTS_ARROW)
        if not columnar:
            requests, columns = columns.records(), None
    else:
        requests = [RequestRecord(**d) for d in read_lines(folder / REQUESTS)]
        if columnar:
            requests, columns = [], RequestColumns.from_records(requests)
    events = [event_from_dict(d, line) for line, d in enumerate(read_lines(folder / EVENTS), start=1)]
    spec_path = folder / SPEC
    log.debug("%s: %d requests, %d events", folder, len(columns) if columns is not None else len(requests),
              len(events))
    return Run(folder, meta, requests, events, spec_path.read_text() if spec_path.exists() else "", columns)
