"""requests.arrow: what a run writes comes back whole; a crash loses at most the last second; old folders open."""

from __future__ import annotations

import json
import time
from pathlib import Path

from pulltheplug.records.arrow import REQUESTS_ARROW, ArrowRequests, json_lines, read_batches, read_columns
from pulltheplug.records.folder import load_run
from pulltheplug.records.model import META, REQUESTS, Meta, request_to_dict
from tests.analysis.test_request_figures import history


def test_records_come_back_whole(tmp_path: Path) -> None:
    records = history(4, n=500)
    w = ArrowRequests(tmp_path / REQUESTS_ARROW, every=0.0)  # a stream per record: many streams in one file
    for r in records[:250]:
        w.write(r)
    w.close()
    w = ArrowRequests(tmp_path / REQUESTS_ARROW)  # appended to, as a resumed writer would
    for r in records[250:]:
        w.write(r)
    w.close()
    assert read_columns(tmp_path / REQUESTS_ARROW).records() == records


def test_a_crash_loses_at_most_the_last_flush_interval(tmp_path: Path) -> None:
    path = tmp_path / REQUESTS_ARROW
    records = history(5, n=40)
    w = ArrowRequests(path, every=0.3)
    for r in records[:10]:
        w.write(r)
    assert read_columns(path).records() == []  # not a second old yet: kept in memory
    time.sleep(0.35)
    w.write(records[10])  # past the interval: everything so far goes to disk
    for r in records[11:]:
        w.write(r)
    # the process dies here (no close): what was flushed is on disk, whole
    assert read_columns(path).records() == records[:11]
    w.close()


def test_a_torn_last_stream_is_left_out_and_a_reader_resumes(tmp_path: Path) -> None:
    path = tmp_path / REQUESTS_ARROW
    records = history(6, n=30)
    w = ArrowRequests(path, every=0.0)
    for r in records:
        w.write(r)
    w.close()
    whole = path.read_bytes()
    path.write_bytes(whole[:-7])  # the last stream cut short, as a killed writer leaves it
    batches, offset = read_batches(path)
    assert sum(b.num_rows for b in batches) == 29
    path.write_bytes(whole)  # the writer finished it after all: a follower takes up from where it stopped
    more, end = read_batches(path, offset)
    assert sum(b.num_rows for b in more) == 1 and end == len(whole)


def test_a_run_folder_from_before_arrow_still_opens(tmp_path: Path) -> None:
    records = history(7, n=60)
    meta = Meta(name="old", started_at="2026-01-01T00:00:00+00:00", t0_monotonic=0.0, status="complete")
    (tmp_path / META).write_text(json.dumps(meta.__dict__))
    (tmp_path / REQUESTS).write_text("".join(json.dumps(request_to_dict(r)) + "\n" for r in records))
    lines = [request_to_dict(r) for r in records]  # to the microsecond, as requests.jsonl held them
    assert [request_to_dict(r) for r in load_run(tmp_path).requests] == lines
    columns = load_run(tmp_path, columnar=True).columns
    assert columns is not None and [request_to_dict(r) for r in columns.records()] == lines
    assert [json.loads(line) for line in json_lines(tmp_path)] == lines
