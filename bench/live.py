"""Bench: does watching a run slow its load? The prober's schedule lag at 1,000 req/s with nobody
watching, with the live server following the records, and with a Chromium showing the live page.

Run `python bench/live.py` (about two minutes). Loopback only, bounded in time; the static server, the
live server and the browser started here are stopped here. Like a real run, each request's record is
written to the run folder as it ends (so the live server has the full stream to follow), and a node event
comes every second (so the page's timeline figure is rebuilt as often as during a fault).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

from prober import CLIENT_CORE, SERVER_CORE, free_port, pin, quantile, static_server

from pulltheplug.live.sidecar import LiveServer
from pulltheplug.load.plan import LoadPlan
from pulltheplug.load.prober import run_load
from pulltheplug.records.events import NodeEvent
from pulltheplug.records.folder import RunWriter
from pulltheplug.records.model import Meta, RequestRecord

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]
CONDITIONS = ("nobody watching", "live server", "live server + browser")


BROWSER = """
import sys
from playwright.sync_api import sync_playwright
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=sys.argv[1], args=sys.argv[3:], headless=True)
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.goto(sys.argv[2])
    page.wait_for_selector("#timeline .main-svg", timeout=20_000)
    print("ready", flush=True)
    sys.stdin.read()  # until the bench closes it
    browser.close()
"""


@contextmanager
def browser_on(url: str, core: int | None) -> Iterator[None]:
    """Chromium showing the live page, in a process of its own (as a person's browser would be)."""
    proc = subprocess.Popen([sys.executable, "-c", BROWSER, CHROMIUM, url, *ARGS], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True,
                            preexec_fn=None if core is None else lambda: pin(core))
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "ready", "the page did not draw"
        yield
    finally:
        assert proc.stdin is not None
        proc.stdin.close()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def children_cpu() -> float:
    """CPU seconds of the children ended so far (the live server, the browser and its whole tree)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def one(condition: str, url: str, rate: float, seconds: float, folder: Path,
        core: int | None) -> tuple[list[float], float]:
    """The lags (sent - due, ms) of one bounded load while `condition` holds, and the CPU seconds the
    watchers used meanwhile (per second of load)."""
    t0 = time.monotonic()
    meta = Meta(name="bench-live", started_at="2026-11-28T00:00:00+00:00", t0_monotonic=t0,
                cluster={"nodes": [{"name": "node1", "role": "manager"}]}, entries={"e": url},
                fault={"kind": "nic-down", "node": "node1", "duration": seconds},
                plan={"steady": 2.0, "fault": seconds, "settle": 1.0, "timeout": 10.0})
    writer = RunWriter(folder, meta, "name: bench-live\n")
    records: list[RequestRecord] = []

    def on_record(r: RequestRecord) -> None:
        writer.request(r)
        records.append(r)

    async def events() -> None:
        while True:
            await asyncio.sleep(1.0)
            t = time.monotonic() - t0
            state = "ready" if int(t) % 2 else "down"
            writer.event(NodeEvent(t=t, node="node1", state=state, role="manager"))

    async def go() -> None:
        ticker = asyncio.create_task(events())
        try:
            await run_load(LoadPlan({"e": url}, rate, 1.0), t0, seconds, on_record)
        finally:
            ticker.cancel()

    cpu = children_cpu()
    server = LiveServer("127.0.0.1", free_port(), None) if condition != CONDITIONS[0] else None
    try:
        if server is not None:
            if core is not None:
                os.sched_setaffinity(server.proc.pid, {core})
            server.follow(folder, "bench")
        watching = server is not None and condition == CONDITIONS[2]
        with browser_on(server.urls["live"], core) if server is not None and watching else nullcontext():
            t0 = meta.t0_monotonic = time.monotonic()  # the load starts once the watchers are up
            writer.write_meta()
            asyncio.run(go())
    finally:
        writer.close()
        if server is not None:
            server.close()
    return [(r.sent - r.due) * 1000 for r in records if r.sent is not None], (children_cpu() - cpu) / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=float, default=1000.0)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--no-pin", dest="pin", action="store_false",
                        help="let every process run anywhere (default: the prober alone on core 0; the static "
                        "server, the live server and the browser on core 1)")
    args = parser.parse_args()
    if args.pin:
        pin(CLIENT_CORE)
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    lags: dict[str, list[list[float]]] = {c: [] for c in CONDITIONS}
    with static_server(port), tempfile.TemporaryDirectory() as tmp:
        for r in range(args.rounds):  # interleaved, so a slow minute of the machine hits every condition
            for i, condition in enumerate(CONDITIONS):
                got, cpu = one(condition, url, args.rate, args.seconds, Path(tmp) / f"run-{r}-{i}",
                               SERVER_CORE if args.pin else None)
                lags[condition].append(got)
                print(f"  round {r + 1}, {condition}: {len(got)} requests, lag p99 {quantile(got, 0.99):.3f} ms, "
                      f"watchers' CPU {cpu:.2f} s/s (with their start)", file=sys.stderr, flush=True)
    where = "prober alone on core 0, the rest on core 1" if args.pin else "no process pinned"
    print(f"\nschedule lag (sent - due) at {args.rate:g} req/s, {args.seconds:g} s x {args.rounds} rounds each, "
          f"{where}:")
    print(f"{'condition':<24} {'p50 ms':>8} {'p99 ms':>8} {'p99.9 ms':>9} {'max ms':>8}  p99 by round")
    p99s = {}
    for condition, runs in lags.items():
        xs = [x for run in runs for x in run]
        p99s[condition] = quantile(xs, 0.99)
        per = ", ".join(f"{quantile(run, 0.99):.3f}" for run in runs)
        print(f"{condition:<24} {statistics.median(xs):8.3f} {p99s[condition]:8.3f} {quantile(xs, 0.999):9.3f} "
              f"{max(xs):8.3f}  {per}")
    diff = p99s[CONDITIONS[2]] - p99s[CONDITIONS[0]]
    print(f"\np99 with the page open minus nobody watching: {diff:+.3f} ms (the target: within 1 ms)")


if __name__ == "__main__":
    main()
