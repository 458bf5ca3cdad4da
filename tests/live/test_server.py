"""The live server as a process beside a run folder being written: it follows the records, streams them,
survives browsers that leave, and refuses bad ports and addresses before anything runs."""

from __future__ import annotations

import json
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pulltheplug.errors import SpecError
from pulltheplug.live.sidecar import LiveServer, check_bind
from pulltheplug.records.folder import RunWriter
from tests.cli.test_errors import cli
from tests.report.synthetic import synthetic_run


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as r:
        body: bytes = r.read()
        return body


def status(server: LiveServer) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(get(server.urls["live"] + "status"))
    return body


def wait_for(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


@pytest.fixture
def server() -> Iterator[LiveServer]:
    with LiveServer("127.0.0.1", free_port(), free_port()) as s:
        yield s
    assert s.proc.returncode == 0  # stdin closed: it ended by itself


class Writing:
    """The synthetic run written as a run would, up to a moment of its clock."""

    def __init__(self, folder: Path) -> None:
        self.run = synthetic_run()
        meta = self.run.meta
        meta.status, meta.phases = "running", {}
        meta.plan = {"steady": 20.0, "fault": 20.0, "settle": 5.0, "timeout": 60.0}
        meta.t0_monotonic = time.monotonic()
        self.writer = RunWriter(folder, meta, "name: x\n")
        self.until = 0.0

    def to(self, t: float) -> None:
        """Everything recorded up to `t`, and the run clock there."""
        for r in sorted(self.run.requests, key=lambda r: r.end):
            if self.until < r.end <= t:
                self.writer.request(r)
        for e in self.run.events:
            if self.until < e.t <= t:
                self.writer.event(e)
        self.until = t
        self.writer.flush()  # a run flushes its requests every second; here each step is a second
        self.writer.meta.t0_monotonic = time.monotonic() - t
        self.writer.write_meta()


def test_the_page_follows_the_records_as_they_are_written(server: LiveServer, tmp_path: Path) -> None:
    w = Writing(tmp_path / "run")
    server.follow(tmp_path / "run", "run 1 of 1")
    w.to(10.0)
    wait_for(lambda: status(server)["totals"]["ok"] > 900)
    s = status(server)
    assert s["phase"] == "steady" and s["faults"] == [] and s["title"] == "run 1 of 1"
    w.to(30.0)
    wait_for(lambda: status(server)["phase"] == "fault")
    s = status(server)
    assert s["faults"][0]["node"] == "node3" and s["outage"]["entry"] == "node3" and s["totals"]["info"] > 0
    page = get(server.urls["live"]).decode()
    assert 'id="timeline"' in page and "EventSource" in page


def test_the_stream_sends_status_and_timeline_and_a_browser_may_leave(server: LiveServer, tmp_path: Path) -> None:
    w = Writing(tmp_path / "run")
    server.follow(tmp_path / "run", "")
    w.to(25.0)
    wait_for(lambda: status(server)["faults"] != [])  # the server has read up to the fault
    port = int(server.urls["live"].rsplit(":", 1)[1].strip("/"))
    for _ in range(3):  # browsers that read a little and vanish mid-stream
        with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
            s.sendall(b"GET /events HTTP/1.1\r\nHost: x\r\n\r\n")
            s.recv(1000)
    with urllib.request.urlopen(server.urls["live"] + "events", timeout=10) as stream:
        got, start = b"", time.monotonic()
        while got.count(b"event: status") < 3:
            got += stream.read1(1 << 16)
        took = time.monotonic() - start
    assert b"event: timeline" in got
    assert took < 3.0  # three status updates, one every 0.5 s (a loaded machine may be slow to start)
    figure = json.loads(got.rsplit(b"event: timeline\ndata: ", 1)[1].split(b"\n\n", 1)[0])  # the newest
    names = {t.get("name") for t in figure["data"]}
    assert {"ok", "fail", "info", "lane:node3", "fault:node3"} <= names
    assert "fault" in {s.get("name") for s in figure["layout"]["shapes"]}
    ok = next(t for t in figure["data"] if t.get("name") == "ok")
    assert len(ok["x"]) >= 250  # 25 s in bins of 100 ms
    assert server.proc.poll() is None


def test_metrics_parse_and_the_end_links_the_report(server: LiveServer, tmp_path: Path) -> None:
    w = Writing(tmp_path / "run")
    server.follow(tmp_path / "run", "")
    w.to(60.0)
    w.writer.meta.status = "complete"
    w.writer.meta.phases = {"end": 60.0}
    w.writer.close()
    report = tmp_path / "run" / "report.html"
    report.write_text("<html>the report</html>")
    server.done(report, "complete")
    wait_for(lambda: "done" in status(server))
    assert get(server.urls["live"] + "report") == b"<html>the report</html>"
    families = {f.name: f for f in text_string_to_metric_families(get(server.urls["metrics"]).decode())}
    total = sum(s.value for s in families["pulltheplug_requests"].samples)
    assert total == len(w.run.requests)


def test_a_port_in_use_is_one_line_before_anything_runs(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(SpecError, match=f"port {port} on 127.0.0.1 is in use: pick another with --live-port"):
            LiveServer("127.0.0.1", port, None)
        result = cli("run", "--live", "--live-port", str(port), "--lab", "nolab9", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and f"port {port}" in lines[0]  # said before the lab was looked for
    assert not (tmp_path / "runs").exists()


def test_a_non_loopback_address_needs_bind_all(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match="--bind-all"):
        check_bind("192.0.2.10", bind_all=False)
    assert check_bind("192.0.2.10", bind_all=True) == "192.0.2.10"
    assert check_bind("127.0.0.1", bind_all=True) == "0.0.0.0"
    assert check_bind("::1", bind_all=False) == "::1"
    result = cli("run", "--metrics-port", "9999", "--live-bind", "192.0.2.10", cwd=tmp_path)
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1 and "--bind-all" in lines[0]
