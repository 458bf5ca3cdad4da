"""`requests.arrow`: the requests of a run in Arrow's columnar format, appended one second at a time.

The file is a sequence of whole Arrow IPC streams (schema, one record batch, end-of-stream marker), one
per flush: a flush every FLUSH_EVERY s, so a crash loses at most the last second of requests; a torn last
stream is left out on reading, and a reader can pick up where it stopped (the live page does). Strings are
dictionary-encoded and buffers zstd-compressed: about 12 bytes a request on disk where JSON lines took 160.
Run folders written before it hold `requests.jsonl`, which `records.folder.load_run` still reads.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import numpy as np
import pyarrow as pa
import pyarrow.ipc

from pulltheplug.records.columns import NONE, OUTCOMES, RequestColumns
from pulltheplug.records.model import RequestRecord

log = logging.getLogger(__name__)

REQUESTS_ARROW = "requests.arrow"
FLUSH_EVERY = 1.0  # s: what a crash can lose
_STRING = pa.dictionary(pa.int32(), pa.string())
SCHEMA = pa.schema([("k", pa.int64()), ("due", pa.float64()), ("sent", pa.float64()), ("end", pa.float64()),
                    ("target", _STRING), ("outcome", _STRING), ("status", pa.int32()), ("error", _STRING),
                    ("node", _STRING), ("task", _STRING)])
_EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"
_OPTIONS = pa.ipc.IpcWriteOptions(compression="zstd")


def _stream(rows: list[list[object]]) -> bytes:
    """One whole IPC stream of one batch: the columns as given, strings dictionary-encoded."""
    arrays = [pa.array(values, type=f.type.value_type).dictionary_encode() if pa.types.is_dictionary(f.type)
              else pa.array(values, type=f.type) for values, f in zip(rows, SCHEMA, strict=True)]
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, SCHEMA, options=_OPTIONS) as writer:
        writer.write_batch(pa.record_batch(arrays, schema=SCHEMA))
    return bytes(sink.getvalue().to_pybytes())


@functools.cache
def _warm() -> None:
    """pyarrow loads its kernels and the zstd codec on first use, once a process: ~0.1 s that a run's first
    flush would spend on the prober's event loop, a second into the load. One row encoded and thrown away
    when the first writer opens, instead."""
    _stream([[0], [0.0], [0.0], [0.0], ["x"], ["ok"], [200], [None], [None], [None]])


class ArrowRequests:
    """The run's request records as they come: kept in lists, written as one IPC stream each second."""

    def __init__(self, path: Path, every: float = FLUSH_EVERY) -> None:
        _warm()
        self._f: IO[bytes] = open(path, "ab")  # noqa: SIM115 - closed in close()
        self._every = every
        self._last = time.monotonic()
        self._rows: list[list[object]] = [[] for _ in SCHEMA]

    def write(self, r: RequestRecord) -> None:
        for column, value in zip(self._rows, (r.k, r.due, r.sent, r.end, r.target, r.outcome, r.status, r.error,
                                               r.node, r.task), strict=True):
            column.append(value)
        if time.monotonic() - self._last >= self._every:
            self.flush()

    def flush(self) -> None:
        self._last = time.monotonic()
        if not self._rows[0]:
            return
        self._f.write(_stream(self._rows))
        self._f.flush()
        self._rows = [[] for _ in SCHEMA]

    def close(self) -> None:
        if not self._f.closed:
            self.flush()
            os.fsync(self._f.fileno())
            self._f.close()


def stream_batches(path: Path, offset: int = 0, fields: list[int] | None = None
                   ) -> Iterator[tuple[list[pa.RecordBatch], int]]:
    """Each whole stream from `offset` on: its batches (only `fields`, when given), and the offset after it."""
    options = pa.ipc.IpcReadOptions(included_fields=fields) if fields is not None else None
    with pa.OSFile(str(path)) as f:
        size = f.size()
        while offset < size:
            f.seek(offset)
            try:
                got = list(pa.ipc.open_stream(f, options=options))
            except (pa.ArrowInvalid, OSError) as exc:
                log.debug("%s: the stream at byte %d is torn (%s): left out", path, offset, exc)
                return
            end = f.tell()
            f.seek(end - len(_EOS))
            if f.read(len(_EOS)) != _EOS:  # ended without its marker: still being written, or torn
                log.debug("%s: the stream at byte %d has no end marker: left out", path, offset)
                return
            offset = end
            yield got, offset


def read_batches(path: Path, offset: int = 0) -> tuple[list[pa.RecordBatch], int]:
    """The batches of every whole stream from `offset` on, and the offset after the last whole one."""
    batches: list[pa.RecordBatch] = []
    after = offset
    for got, after in stream_batches(path, offset):  # noqa: B007 - the last offset is the answer
        batches.extend(got)
    return batches, after


class _Codes:
    """One string column's codes across streams, each stream with its own dictionary: one list of names."""

    def __init__(self, n: int) -> None:
        self.names: list[str] = []
        self._index: dict[str, int] = {}
        self.codes: np.ndarray = np.empty(n, np.int32)

    def put(self, at: int, column: pa.Array) -> None:
        local = [str(x) for x in column.dictionary.to_pylist()]
        lookup = np.array([self._index.setdefault(x, len(self._index)) for x in local] + [NONE], dtype=np.int32)
        self.names = list(self._index)
        indices = column.indices.fill_null(len(local)).to_numpy(zero_copy_only=False)
        self.codes[at:at + len(indices)] = lookup[indices]


def read_columns(path: Path) -> RequestColumns:
    """The file's requests as numpy columns, filled a stream at a time: ten million requests in about 0.6 GB.

    A first pass reads only `k` to count the rows, so every column is made once at its full size.
    """
    n = sum(b.num_rows for batches, _ in stream_batches(path, fields=[0]) for b in batches)
    numbers = {"k": np.empty(n, np.int64), "due": np.empty(n, np.float64), "sent": np.empty(n, np.float64),
               "end": np.empty(n, np.float64), "status": np.empty(n, np.int32)}
    strings = {name: _Codes(n) for name in ("target", "outcome", "error", "node", "task")}
    at = 0
    for batches, _ in stream_batches(path):
        for batch in batches:
            rows = min(batch.num_rows, n - at)  # a stream that became whole between the passes waits
            for name, out in numbers.items():
                column = batch.column(name).slice(0, rows)
                fill = NONE if name == "status" else np.nan
                out[at:at + rows] = (column.fill_null(fill) if column.null_count else column).to_numpy(
                    zero_copy_only=False)
            for name, codes in strings.items():
                codes.put(at, batch.column(name).slice(0, rows))
            at += rows
    outcome = strings["outcome"]
    remap = np.array([OUTCOMES.index(o) for o in outcome.names] + [0], dtype=np.int8)
    return RequestColumns(
        k=numbers["k"][:at], due=numbers["due"][:at], sent=numbers["sent"][:at], end=numbers["end"][:at],
        target=strings["target"].codes[:at], targets=strings["target"].names,
        outcome=remap[outcome.codes[:at]], status=numbers["status"][:at],
        error=strings["error"].codes[:at], errors=strings["error"].names,
        node=strings["node"].codes[:at], nodes=strings["node"].names,
        task=strings["task"].codes[:at], tasks=strings["task"].names)


def json_lines(folder: Path) -> Iterator[str]:
    """The run's requests as JSON lines (requests.jsonl's format), a stream at a time: for grep and jq."""
    from pulltheplug.records.model import REQUESTS, read_lines, request_to_dict

    path = folder / REQUESTS_ARROW
    if not path.exists():  # an older run folder: its own lines
        for d in read_lines(folder / REQUESTS):
            yield json.dumps(d, separators=(",", ":"))
        return
    for batches, _ in stream_batches(path):
        for batch in batches:
            for row in batch.to_pylist():
                yield json.dumps(request_to_dict(RequestRecord(**row)), separators=(",", ":"))
