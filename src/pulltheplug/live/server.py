"""The live page and the metrics endpoint: a process of its own beside the run, reading the run folder.

Started by `run --live` / `--metrics-port` (see sidecar.py) as `python -m pulltheplug.live.server`. Being a
separate process that only reads the records, it cannot slow the load (no shared GIL, no shared event
loop) and a browser that comes and goes cannot disturb the run. It binds its ports, prints one JSON line
(`{"ready": {...}}` or `{"error": "..."}`), then takes commands as JSON lines on stdin:
`{"follow": FOLDER, "title": TEXT}` (a run began), `{"done": {"report": PATH, "status": TEXT}}` (all
ended). It ends when stdin closes, so it never outlives the command that started it.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import errno
import json
import logging
import os
import sys
import time
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from aiohttp import web
from prometheus_client.exposition import choose_encoder

from pulltheplug.live.follow import Follower
from pulltheplug.live.metrics import registry_of
from pulltheplug.live.state import OUTCOMES, LiveBins, LiveState
from pulltheplug.report.figure import timeline_figure
from pulltheplug.report.timeline import Bins, timeline_from

log = logging.getLogger(__name__)

POLL = 0.2  # seconds between two reads of the records
PUSH = 0.5  # seconds between two updates sent to each browser (the issue asks at least two a second)
NICE = 10  # the watcher yields the CPU to the load it watches (the run's prober stays at its own priority)
FRAME_EVERY = 2.0  # seconds at least between two full rebuilds of the timeline figure
_NO_CACHE = {"Cache-Control": "no-cache"}


@dataclass
class Watched:
    """The run being followed, and the ones before it (a campaign's)."""

    follower: Follower | None = None
    title: str = ""
    earlier: list[dict[str, str]] = field(default_factory=list)  # name, report path
    done: dict[str, Any] | None = None  # report, status: once everything ended
    version: int = 0  # bumped whenever new records were read

    @property
    def state(self) -> LiveState | None:
        return self.follower.state if self.follower else None

    def now(self) -> float:
        """The run clock: live while the run goes, its end once it ended."""
        state = self.state
        if state is None or state.meta is None:
            return 0.0
        meta = state.meta
        if meta.status == "running":
            return time.monotonic() - meta.t0_monotonic
        return max(meta.phases.get("end", 0.0), state.last_t)

    def follow(self, new: Path, title: str) -> None:
        if self.follower is not None:
            self.follower.poll()
            folder = self.follower.folder
            self.earlier.append({"name": folder.name, "report": str(folder / "report.html")})
            self.follower.close()
        self.follower = Follower(new)
        self.title = title
        self.version += 1

    def poll(self) -> None:
        if self.follower is not None and self.follower.poll():
            self.version += 1

    def scrape(self) -> tuple[LiveState, str, float] | None:
        if self.follower is None or self.state is None:
            return None
        return self.state, self.follower.folder.name, self.now()


class LivePage:
    """What the browser gets: the page, then a stream of status and timeline updates."""

    def __init__(self, watched: Watched) -> None:
        self.w = watched
        self._figure: tuple[int, float, str] | None = None  # (version, built at, JSON)
        self._frame: _Frame | None = None

    def status(self) -> dict[str, Any]:
        state = self.w.state
        body: dict[str, Any] = state.status(self.w.now()) if state is not None else {"phase": "waiting"}
        body.update(title=self.w.title, earlier=[{"name": e["name"], "url": f"/report/{i}"}
                                                 for i, e in enumerate(self.w.earlier)])
        if self.w.done is not None:
            body["done"] = {"status": self.w.done.get("status", ""), "url": "/report" if self.w.done.get("report")
                            else None}
        return body

    def figure(self) -> str | None:
        """The report's timeline over what was recorded so far.

        Building it with plotly costs ~0.2 s, so the whole figure (lanes, markers, windows) is rebuilt only
        when events came, at most every `FRAME_EVERY`; in between, the request rows are refilled from the bins
        and whatever was still open at the frame's end (a node's state, a fault band) is stretched to now.
        """
        state = self.w.state
        if state is None or state.meta is None:
            return None
        cached = self._figure
        if cached is not None and (cached[0] == self.w.version or time.monotonic() - cached[1] < PUSH):
            return cached[2]
        now = self.w.now()
        state.bins.cover(now)
        frame = self._frame
        if frame is None or (frame.events != len(state.events) and time.monotonic() - frame.built >= FRAME_EVERY):
            binned = Bins(state.bins.width, [], [], [], [], [], [])  # the rows are filled in below
            fig = timeline_figure(timeline_from(state.meta, state.events, binned, now),
                                  "in progress" if state.meta.status == "running" else "never reverted")
            frame = self._frame = _Frame(json.loads(str(fig.to_json())), len(state.events), now, time.monotonic())
        text = json.dumps(frame.at(now, state.bins))
        self._figure = (self.w.version, time.monotonic(), text)
        return text

    async def index(self, _: web.Request) -> web.Response:
        return web.Response(text=_asset("live.html"), content_type="text/html", headers=_NO_CACHE)

    async def plotly(self, _: web.Request) -> web.Response:
        from plotly.offline import get_plotlyjs
        return web.Response(text=get_plotlyjs(), content_type="application/javascript",
                            headers={"Cache-Control": "max-age=3600"})

    async def status_json(self, _: web.Request) -> web.Response:
        return web.json_response(self.status(), headers=_NO_CACHE)

    async def events(self, request: web.Request) -> web.StreamResponse:
        """Server-sent events: `status` every push, `timeline` when the records grew; a browser that goes
        away just ends its own stream."""
        resp = web.StreamResponse(headers={"Content-Type": "text/event-stream", **_NO_CACHE})
        await resp.prepare(request)
        sent_figure = -1
        try:
            while True:
                await resp.write(_sse("status", json.dumps(self.status())))
                if self.w.version != sent_figure:
                    figure = self.figure()
                    if figure is not None:
                        await resp.write(_sse("timeline", figure))
                        sent_figure = self.w.version
                await asyncio.sleep(PUSH)
        except (ConnectionResetError, asyncio.CancelledError):
            log.debug("a browser left the live page")
        return resp

    async def report(self, request: web.Request) -> web.StreamResponse:
        index = request.match_info.get("index")
        if index is not None:
            i = int(index)
            if not 0 <= i < len(self.w.earlier):
                raise web.HTTPNotFound(text="no such run")
            path = Path(self.w.earlier[i]["report"])
        else:
            done = self.w.done or {}
            given = done.get("report")
            path = Path(given) if given else (self.w.follower.folder / "report.html" if self.w.follower else Path())
        if not path.is_file():
            raise web.HTTPNotFound(text="the report is written when the run ends")
        return web.FileResponse(path)


@dataclass
class _Frame:
    """A built timeline figure (plotly JSON), and what it was built from."""

    fig: dict[str, Any]
    events: int  # how many events it shows
    end: float  # the run time it ends at
    built: float  # monotonic

    def at(self, now: float, bins: LiveBins) -> dict[str, Any]:
        p50, p99 = bins.quantiles()
        n = len(bins.latencies)
        centers = [round((i + 0.5) * bins.width, 6) for i in range(n)]
        rows: dict[str, dict[str, Any]] = {"latency p50": {"x": centers, "y": p50},
                                           "latency p99": {"x": centers, "y": p99}}
        base = [0] * n
        for outcome in OUTCOMES:
            counts = bins.counts[outcome]
            rows[outcome] = {"x": centers, "y": list(counts), "base": list(base)}
            base = [a + c for a, c in zip(base, counts, strict=True)]
        data = []
        for trace in self.fig.get("data", []):
            if trace.get("name") in rows:
                trace = {**trace, **rows[trace["name"]]}
            elif trace.get("orientation") == "h" and isinstance(trace.get("x"), list):
                trace = {**trace, "x": [now - b if abs(b + x - self.end) < 1e-6 else x
                                        for b, x in zip(trace["base"], trace["x"], strict=True)]}
            data.append(trace)
        layout = dict(self.fig.get("layout", {}))
        layout["shapes"] = [{**sh, "x1": now} if sh.get("type") == "rect" and abs(sh.get("x1", 0) - self.end) < 1e-6
                            else sh for sh in layout.get("shapes", [])]
        for key in [k for k in layout if k.startswith("xaxis")]:
            layout[key] = {**layout[key], "range": [0, max(now, bins.width)]}
        return {"data": data, "layout": layout}


def _sse(event: str, data: str) -> bytes:
    return f"event: {event}\ndata: {data}\n\n".encode()


def _asset(name: str) -> str:
    return resources.files("pulltheplug.live").joinpath(name).read_text()


async def metrics(watched: Watched, request: web.Request) -> web.Response:
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    body = encoder(registry_of(watched.scrape))
    return web.Response(body=body, headers={"Content-Type": content_type})


def live_app(watched: Watched) -> web.Application:
    page = LivePage(watched)
    app = web.Application()
    app.router.add_get("/", page.index)
    app.router.add_get("/plotly.min.js", page.plotly)
    app.router.add_get("/status", page.status_json)
    app.router.add_get("/events", page.events)
    app.router.add_get("/report", page.report)
    app.router.add_get("/report/{index:\\d+}", page.report)
    return app


def metrics_app(watched: Watched) -> web.Application:
    app = web.Application()

    async def handler(request: web.Request) -> web.Response:
        return await metrics(watched, request)

    app.router.add_get("/metrics", handler)
    return app


async def _serve(args: argparse.Namespace) -> int:
    watched = Watched()
    runners: list[web.AppRunner] = []
    ready: dict[str, str] = {}
    host = args.bind
    try:
        for kind, port, app in (("live", args.live_port, live_app), ("metrics", args.metrics_port, metrics_app)):
            if port is None:
                continue
            runner = web.AppRunner(app(watched), handle_signals=False, access_log=None)
            await runner.setup()
            runners.append(runner)
            site = web.TCPSite(runner, host, port, shutdown_timeout=0.5)
            try:
                await site.start()
            except OSError as exc:
                flag = "--live-port" if kind == "live" else "--metrics-port"
                why = "is in use" if exc.errno == errno.EADDRINUSE else f"cannot be bound ({exc.strerror})"
                print(json.dumps({"error": f"port {port} on {host} {why}: pick another with {flag}"}), flush=True)
                return 2
            shown = "127.0.0.1" if host in ("0.0.0.0", "::") else host
            ready[kind] = f"http://{shown}:{port}/" + ("metrics" if kind == "metrics" else "")
        print(json.dumps({"ready": ready}), flush=True)
        poller = asyncio.create_task(_poll(watched))
        try:
            await _commands(watched)
        finally:
            poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await poller
        return 0
    finally:
        for runner in runners:
            await runner.cleanup()


async def _poll(watched: Watched) -> None:
    while True:
        watched.poll()
        await asyncio.sleep(POLL)


async def _commands(watched: Watched) -> None:
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while line := await reader.readline():
        try:
            cmd = json.loads(line)
        except json.JSONDecodeError:
            log.warning("live: not a command: %r", line[:80])
            continue
        if "follow" in cmd:
            watched.follow(Path(cmd["follow"]), str(cmd.get("title", "")))
        elif "done" in cmd:
            watched.poll()
            watched.done = dict(cmd["done"])
            watched.version += 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m pulltheplug.live.server")
    parser.add_argument("--bind", default="127.0.0.1")
    parser.add_argument("--live-port", type=int)
    parser.add_argument("--metrics-port", type=int)
    parser.add_argument("--debug", action="store_true")
    args = parser.parse_args(argv)
    os.nice(NICE)
    logging.basicConfig(level=logging.DEBUG if args.debug else logging.WARNING, stream=sys.stderr)
    return asyncio.run(_serve(args))


if __name__ == "__main__":
    sys.exit(main())
