"""The history of a run, on one monotonic clock: requests, cluster events, fault events.

A run folder `runs/<time>-<name>/` holds `spec.yaml`, `requests.arrow`, `events.jsonl` (records/events.py) and
`meta.json`.
Events are appended and flushed as they happen; requests are flushed every second (`records/arrow.py`), so a
crash keeps everything up to that moment, less at most the last second of requests. Older run folders hold
`requests.jsonl` instead, and still open. All times are seconds since the run's start (`t0`, a
`time.monotonic()` reading kept in meta.json).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

from pulltheplug.records.events import Event

if TYPE_CHECKING:
    from pulltheplug.records.columns import RequestColumns

log = logging.getLogger(__name__)

Outcome = Literal["ok", "fail", "info"]
NOT_SENT = "not_sent"  # the error of a request that never left the client (see RequestRecord)

REQUESTS = "requests.jsonl"  # the requests of run folders made before requests.arrow, and `report --format jsonl`
EVENTS = "events.jsonl"
META = "meta.json"
SPEC = "spec.yaml"


@dataclass(frozen=True, slots=True)
class RequestRecord:
    """One request, as Jepsen sees an operation: ok (2xx), fail (had no effect), info (unknown).

    `due` is when the open-loop schedule wanted it sent; latency is measured from there (as wrk2 does),
    so a client that lags shows up as latency, never as a missing request.

    `sent` is None for a request the run was stopped before it could send (it waited for a free slot):
    it never reached the service, so analysis leaves it out of availability, outages, latency and client
    lag, and only counts it. Its outcome is "fail" (it surely had no effect) with error "not_sent", and
    `end` is when it was given up.
    """

    k: int
    due: float
    sent: float | None
    end: float
    target: str
    outcome: Outcome
    status: int | None = None
    error: str | None = None  # kind: refused, unreachable, timeout, reset, http_5xx, ...
    node: str | None = None  # the node that served the answer
    task: str | None = None

    @property
    def latency(self) -> float:
        return self.end - self.due

    @property
    def was_sent(self) -> bool:
        return self.sent is not None


@dataclass
class Meta:
    """What the run was: cluster, entries, fault, phases, and whether it ended well."""

    name: str
    started_at: str  # wall clock, ISO 8601
    t0_monotonic: float
    status: str = "running"  # running | complete | interrupted | failed
    cluster: dict[str, Any] = field(default_factory=dict)  # name, kind, engine_version, nodes[{name,address,role}]
    entries: dict[str, str] = field(default_factory=dict)  # entry name -> URL
    workload: dict[str, Any] = field(default_factory=dict)
    load: dict[str, Any] = field(default_factory=dict)  # rate, timeout
    fault: dict[str, Any] = field(default_factory=dict)  # kind, target, node, seed, pick
    phases: dict[str, float] = field(default_factory=dict)  # steady, fault, revert, converged, end
    slo: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    door: dict[str, Any] = field(default_factory=dict)  # the front door (kind, address, check timing); {}: none
    plan: dict[str, float] = field(default_factory=dict)  # planned lengths, s: steady, fault, settle, timeout
    analysis: dict[str, Any] = field(default_factory=dict)  # the spec's analysis section; {}: the defaults


class JsonLines:
    """An append-only JSON-lines file, flushed at every write (and fsynced on close)."""

    def __init__(self, path: Path) -> None:
        self._f: IO[str] = open(path, "a", buffering=1)  # noqa: SIM115 - closed in close()

    def write(self, obj: dict[str, Any]) -> None:
        self._f.write(json.dumps(obj, separators=(",", ":")) + "\n")

    def close(self) -> None:
        if not self._f.closed:
            self._f.flush()
            os.fsync(self._f.fileno())
            self._f.close()


def request_to_dict(r: RequestRecord) -> dict[str, Any]:
    """Optional fields that are None are left out, but `sent` is always written (null: never sent)."""
    d = asdict(r)
    for key in ("due", "sent", "end"):
        if d[key] is not None:
            d[key] = round(d[key], 6)
    return {k: v for k, v in d.items() if v is not None or k == "sent"}


@dataclass
class Run:
    """A run folder read back: everything analysis and reports need, nothing more.

    Read with `columnar`, `requests` is empty and `columns` holds them (millions of records do not fit as
    objects); analysis and reports take `columns` when it is there.
    """

    folder: Path
    meta: Meta
    requests: list[RequestRecord]
    events: list[Event]
    spec_text: str = ""
    columns: RequestColumns | None = None


def read_lines(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with open(path) as f:
        for number, line in enumerate(f, start=1):
            line = line.strip()
            if not line:
                continue
            try:
                yield json.loads(line)
            except json.JSONDecodeError as exc:  # a torn last line after a crash: everything before it counts
                log.debug("%s:%d skipped, torn or not JSON (%s)", path, number, exc)
