"""`pulltheplug load`: the prober alone against a real HTTP server on loopback that is broken by hand."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web

from pulltheplug.records.folder import load_run
from tests.cli.test_errors import cli
from tests.live.test_server import free_port


class Breakable:
    """An HTTP server in a thread: 200 `node=web task=1`, or 503 while broken."""

    def __init__(self) -> None:
        self.port = free_port()
        self.broken = False
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)

    async def _answer(self, _: web.Request) -> web.Response:
        return web.Response(status=503) if self.broken else web.Response(text="node=web task=1\n")

    def _serve(self) -> None:
        asyncio.set_event_loop(self.loop)
        app = web.Application()
        app.router.add_get("/", self._answer)
        runner = web.AppRunner(app, access_log=None)
        self.loop.run_until_complete(runner.setup())
        self.loop.run_until_complete(web.TCPSite(runner, "127.0.0.1", self.port).start())
        self.ready.set()
        self.loop.run_forever()
        self.loop.run_until_complete(runner.cleanup())

    def __enter__(self) -> Breakable:
        self.thread.start()
        self.ready.wait(5)
        return self

    def __exit__(self, *_: object) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)


@pytest.fixture
def server() -> Iterator[Breakable]:
    with Breakable() as s:
        yield s


@pytest.mark.parametrize("how", [["--workers", "1"], ["--workers", "2", "--no-keep-alive"]],
                         ids=["one-process", "two-workers-conn-per-request"])
def test_a_service_broken_by_hand_shows_its_outage(server: Breakable, tmp_path: Path, how: list[str]) -> None:
    """Two worker processes share one schedule: every request k once, due at start + k/rate on one clock."""
    def break_it() -> None:
        deadline = time.monotonic() + 20
        while not list(tmp_path.glob("runs/*-load/meta.json")) and time.monotonic() < deadline:
            time.sleep(0.02)
        time.sleep(1.0)
        server.broken = True
        time.sleep(1.0)
        server.broken = False

    hand = threading.Thread(target=break_it)
    hand.start()
    proc = cli("load", f"http://127.0.0.1:{server.port}/", "--rate", "100", "--duration", "3s", "--timeout", "1s",
               *how, cwd=tmp_path)
    hand.join()
    assert proc.returncode == 0, proc.stderr
    folder = next(tmp_path.glob("runs/*-load"))
    assert f"report: runs/{folder.name}/report.html" in proc.stdout and (folder / "report.html").exists()
    run = load_run(folder)
    assert run.meta.status == "complete" and run.meta.fault["kind"] == "none"
    assert sorted(r.k for r in run.requests) == list(range(300))  # every due request has its record
    start = min(r.due for r in run.requests)
    assert all(abs(r.due - (start + r.k / 100)) < 1e-6 for r in run.requests)
    assert run.meta.load["workers"] == int(how[1]) and run.meta.load["engine"] == "fast"
    summary = json.loads((folder / "summary.json").read_text())["summary"]
    assert run.meta.load["capacity"] > 1000  # calibrated at start, and 100/s is well within it:
    assert not any("calibration" in w for w in summary["warnings"])
    windows = [w for w in summary["outages"] if w["entry"] == f"127.0.0.1:{server.port}"]
    assert len(windows) == 1 and windows[0]["errors"] == {"http_5xx": windows[0]["failed"]}
    # the test broke it for 1 s (its own sleeps, so give a loaded machine 0.25 s)
    assert windows[0]["duration"] == pytest.approx(1.0, abs=0.25)
    # the terminal speaks of what a load test measured, and of no cluster it never had
    out = proc.stdout
    for said in ("load load: complete", "availability", "worst window", "error second(s)", "availability per URL",
                 "outage windows per entry point (1)", "latency from due time", "client lag"):
        assert said in out, said
    for unsaid in ("control plane", "leader", "node lost", "node Ready", "findings", "fault"):
        assert unsaid not in out, unsaid
    assert summary["windowed_availability"][0]["worst"] < 0.1  # the worst 1 s window: the broken second
    html = (folder / "report.html").read_text()
    assert "Worst availability over every window" in html and "Outage windows per entry point" in html
    for unsaid in ('id="findings"', "Time to detect and recover", "Control plane windows", "Leader changes"):
        assert unsaid not in html, unsaid


@pytest.mark.parametrize(("args", "message"), [
    (["ftp://127.0.0.1/"], "is not an http(s) URL"),
    (["http://127.0.0.1:1/", "--duration", "soon"], "--duration 'soon'"),
    (["http://127.0.0.1:1/", "--rate", "0"], "must be positive"),
    (["http://127.0.0.1:1/", "--workers", "0"], "--workers must be at least 1"),
    (["https://127.0.0.1:1/", "--workers", "2"], "needs plain http URLs"),
])
def test_bad_input_is_one_line_and_no_run_folder(tmp_path: Path, args: list[str], message: str) -> None:
    proc = cli("load", *args, cwd=tmp_path)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and message in lines[0], proc.stderr
    assert not (tmp_path / "runs").exists()
