"""Bench the open-loop probers on loopback: their ceilings beside hey and wrk, schedule skew, outage edges.

Run `python bench/prober.py` (about four minutes). Everything talks to 127.0.0.1 only, every load is
bounded in time, and every server started here is stopped here. One prober process runs pinned to core 0;
servers run in child processes pinned to core 1. Two workers get cores 0 and 1, the server's core too: this
machine has two cores, so that row shows what the second worker adds on a machine with no core to spare.
Old and new side by side: `aiohttp` is load.run_load, `fast` is fast_load.run_fast_load on uvloop.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from pulltheplug.load.fast import new_loop, run_fast_load
from pulltheplug.load.plan import LoadPlan
from pulltheplug.load.prober import run_load
from pulltheplug.load.workers import run_workers
from pulltheplug.records.model import RequestRecord

HOST = "127.0.0.1"
CLIENT_CORE, SERVER_CORE = 0, 1
STEP_SECONDS = 3.0
MAX_LATE = 0.01  # share of requests sent more than LATE after due that still counts as sustained
LATE = 0.010
MAX_ERRORS = 0.001
BODY = b"node=bench task=static\n"
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: %d\r\n" % len(BODY)
RESPONSE = HEAD + b"\r\n" + BODY
RESPONSE_CLOSE = HEAD + b"Connection: close\r\n\r\n" + BODY


# ---- servers (child processes) ----


class StaticHttp(asyncio.Protocol):
    """A minimal HTTP/1.1 server of one static answer: fast enough that the client is the limit.

    Keep-alive by default; with `close`, one connection per request as busybox httpd (the lab's probe)
    does, but with a deep accept queue (busybox listens with a backlog of 9).
    """

    open: ClassVar[set[asyncio.Transport]] = set()
    close = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.buf = b""
        StaticHttp.open.add(transport)

    def connection_lost(self, exc: Exception | None) -> None:
        StaticHttp.open.discard(self.transport)

    def data_received(self, data: bytes) -> None:
        self.buf += data
        n = self.buf.count(b"\r\n\r\n")
        if n:
            self.buf = self.buf[self.buf.rfind(b"\r\n\r\n") + 4 :]
            if StaticHttp.close:
                self.transport.write(RESPONSE_CLOSE)
                self.transport.close()
            else:
                self.transport.write(RESPONSE * n)


def listen(port: int) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    sock.listen(1024)
    return sock


def spin_until(t: float) -> float:
    """Busy-wait the last stretch so an edge lands on its monotonic time to the microsecond."""
    while (now := time.monotonic()) < t:
        pass
    return now


async def serve(port: int, down_at: float | None, outage: float | None) -> None:
    """Serve; with down_at (monotonic) and outage, refuse connections that long and print the true edges.

    The down edge is taken when the timer fires (no busy-wait: a blocked server would fail requests
    early); the up edge is busy-waited to exactly `outage` later, when there is nothing to serve.
    """
    loop = asyncio.get_running_loop()
    server = await loop.create_server(StaticHttp, sock=listen(port))
    print("ready", flush=True)
    if down_at is None or outage is None:
        await asyncio.Event().wait()
        return
    await asyncio.sleep(max(0.0, down_at - time.monotonic()))
    server.close()  # the listening socket closes at once: new connections are refused
    down = time.monotonic()
    for transport in list(StaticHttp.open):
        transport.abort()
    await asyncio.sleep(max(0.0, down + outage - time.monotonic() - 0.005))
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((HOST, port))
    spin_until(down + outage)
    sock.listen(1024)  # from here the kernel completes connections
    up = time.monotonic()
    await loop.create_server(StaticHttp, sock=sock)
    print(json.dumps({"down": down, "up": up}), flush=True)
    await asyncio.Event().wait()


def pin(core: int) -> None:
    os.sched_setaffinity(0, {core})


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def wait_listening(port: int, within: float = 5.0) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex((HOST, port)) == 0:
                return
        time.sleep(0.02)
    raise RuntimeError(f"nothing listens on {HOST}:{port}")


@contextmanager
def child(args: list[str]) -> Iterator[subprocess.Popen[str]]:
    """A server process on the server core, always stopped (by its own pid) on exit."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True, preexec_fn=lambda: pin(SERVER_CORE))
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@contextmanager
def static_server(
    port: int, down_at: float | None = None, outage: float | None = None, close: bool = False
) -> Iterator[subprocess.Popen[str]]:
    args = [sys.executable, __file__, "--serve", str(port)] + (["--close"] if close else [])
    if down_at is not None and outage is not None:
        args += ["--down-at", repr(down_at), "--outage", repr(outage)]
    with child(args) as proc:
        assert proc.stdout is not None
        if proc.stdout.readline().strip() != "ready":
            raise RuntimeError("the static server did not start")
        yield proc


@contextmanager
def busybox_server(port: int) -> Iterator[None]:
    with tempfile.TemporaryDirectory() as www:
        (Path(www) / "index.html").write_bytes(BODY)
        with child(["busybox", "httpd", "-f", "-p", f"{HOST}:{port}", "-h", www]):
            wait_listening(port)
            yield


# ---- measurements ----


@dataclass
class Step:
    rate: float
    n: int
    errors: int
    late: float  # share sent more than LATE after due
    p50: float
    p99: float
    cpu: float  # the prober's CPU seconds per request (user + system): contention does not change it
    kinds: str = ""  # the error kinds seen, most common first

    @property
    def sustained(self) -> bool:
        return self.errors <= MAX_ERRORS * self.n and self.late <= MAX_LATE


def quantile(xs: list[float], q: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(q * len(xs)))]


@dataclass(frozen=True)
class Prober:
    engine: str = "aiohttp"  # aiohttp | fast
    keep_alive: bool = True
    workers: int = 1

    @property
    def label(self) -> str:
        conn = "keep-alive" if self.keep_alive else "conn per request"
        return f"{self.engine}{f' x{self.workers} workers' if self.workers > 1 else ''}, {conn}"


AIOHTTP = Prober()


def probe(url: str, rate: float, seconds: float, t0: float | None = None, how: Prober = AIOHTTP
          ) -> list[RequestRecord]:
    """Load one entry until `seconds` after t0 (default: now); the records in k order."""
    records: list[RequestRecord] = []
    start = time.monotonic() if t0 is None else t0
    plan = LoadPlan({"e": url}, rate, 1.0, keep_alive=how.keep_alive)
    if how.workers > 1:
        os.sched_setaffinity(0, {CLIENT_CORE, SERVER_CORE})  # the workers inherit it
        try:
            run_workers(plan, start, seconds - (time.monotonic() - start), records.append, how.workers)
        finally:
            pin(CLIENT_CORE)
        return sorted(records, key=lambda r: r.k)

    async def go() -> None:
        if how.engine == "fast":
            await run_fast_load(plan, start, seconds, records.append, hold_gc=True)
        else:
            await run_load(plan, start, seconds, records.append)

    with asyncio.Runner(loop_factory=new_loop if how.engine == "fast" else None) as runner:
        runner.run(go())
    return sorted(records, key=lambda r: r.k)


def cpu_seconds() -> float:
    """This process and its finished workers: servers and tools are children still running when it is read."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime + workers.ru_utime + workers.ru_stime


def step(url: str, rate: float, how: Prober, seconds: float = STEP_SECONDS) -> Step:
    before = cpu_seconds()
    records = probe(url, rate, seconds, how=how)
    cpu = (cpu_seconds() - before) / len(records)
    lags = [r.sent - r.due for r in records if r.sent is not None]
    errors = sum(r.outcome != "ok" for r in records)
    late = sum(lag > LATE for lag in lags) / len(lags)
    kinds = Counter(r.error for r in records if r.outcome != "ok")
    named = " ".join(f"{kind}:{n}" for kind, n in kinds.most_common(3))
    return Step(rate, len(records), errors, late, quantile(lags, 0.5), quantile(lags, 0.99), cpu, named)


def ceiling(url: str, rates: Sequence[float], how: Prober) -> tuple[Step | None, list[Step]]:
    steps: list[Step] = []
    best = None
    for rate in rates:
        s = step(url, rate, how)
        if not s.sustained:  # once more: other work on this machine may have stalled one step
            steps.append(s)
            s = step(url, rate, how)
        steps.append(s)
        if not s.sustained:
            break
        best = s
    return best, steps


def closed_loop(tool: str, url: str, seconds: int = 3) -> float:
    """A closed-loop tool's throughput on the client core: what the same core does flat out."""
    if tool == "wrk":
        args = ["wrk", "-t1", "-c16", f"-d{seconds}s", url]
    else:
        args = ["hey", "-z", f"{seconds}s", "-c", "16", url]
    if shutil.which(args[0]) is None:
        return float("nan")
    out = subprocess.run(
        args,
        capture_output=True,
        text=True,
        timeout=seconds + 20,
        env={**os.environ, "GOMAXPROCS": "1"},
        preexec_fn=lambda: pin(CLIENT_CORE),
    ).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    return float(m.group(1)) if m else float("nan")


def longest_run(records: list[RequestRecord], outcomes: set[str]) -> tuple[float, float] | None:
    """The maximal run of requests with these outcomes: (due of the first, due of the last + one spacing)."""
    best: tuple[int, int] | None = None
    i = 0
    while i < len(records):
        if records[i].outcome not in outcomes:
            i += 1
            continue
        j = i
        while j + 1 < len(records) and records[j + 1].outcome in outcomes:
            j += 1
        if best is None or j - i > best[1] - best[0]:
            best = (i, j)
        i = j + 1
    if best is None:
        return None
    spacing = records[1].due - records[0].due
    return records[best[0]].due, records[best[1]].due + spacing


@dataclass
class Edges:
    truth: float  # the outage the server really had, s
    start: float  # measured (run of fail) - true, s
    end: float
    start_not_ok: float  # the same with info counted too: requests in flight at the edge fail early


def edge(rate: float, outage: float = 2.0, how: Prober = AIOHTTP) -> Edges:
    """The measured outage against the server's true edges (taken by the server on the same clock)."""
    port = free_port()
    t0 = time.monotonic()
    down_at = t0 + 1.5  # leaves time for the server to start
    with static_server(port, down_at, outage) as proc:
        records = probe(f"http://{HOST}:{port}/", rate, down_at + outage + 1.0 - t0, t0, how)
        assert proc.stdout is not None
        truth = json.loads(proc.stdout.readline())
    down, up = truth["down"] - t0, truth["up"] - t0
    failed = longest_run(records, {"fail"})
    not_ok = longest_run(records, {"fail", "info"})
    if failed is None or not_ok is None:
        raise RuntimeError("no failed request during the outage")
    return Edges(up - down, failed[0] - down, failed[1] - up, not_ok[0] - down)


# ---- report ----


def main() -> None:
    pin(CLIENT_CORE)
    began = time.monotonic()
    print(f"prober bench: client on core {CLIENT_CORE}, servers on core {SERVER_CORE}, {HOST} only")
    print("load average at start: {:.2f} {:.2f} {:.2f} (other work here shares the cores)".format(*os.getloadavg()))
    print(f"sustained = errors <= {MAX_ERRORS:.1%} and <= {MAX_LATE:.0%} sent more than {LATE * 1e3:.0f} ms late")
    print()
    print("(a) ceiling, open loop, steps of", f"{STEP_SECONDS:.0f} s; wrk and hey on one core (GOMAXPROCS=1)")
    header = (
        f"{'target':<24}{'prober':<34}{'req/s':>8}{'CPU us/req':>11}{'1 core/CPU':>11}"
        f"{'wrk req/s':>11}{'hey req/s':>11}{'vs wrk':>8}{'vs hey':>8}"
    )
    rows: list[str] = []
    details: list[str] = []
    fast_ka, fast_close = Prober("fast"), Prober("fast", keep_alive=False)
    targets = [
        ("static keep-alive", "static", [
            (AIOHTTP, [2000, 4000, 5000, 6000, 8000]),
            (fast_ka, [15000, 20000, 25000, 30000, 35000, 40000, 45000]),
            (Prober("fast", workers=2), [20000, 25000, 30000, 35000, 40000, 45000]),
        ]),
        ("static conn per request", "close", [
            (AIOHTTP, [1000, 2000, 3000, 4000]),
            (fast_close, [4000, 5000, 6000, 7000, 8000, 9000, 10000]),
            (Prober("fast", keep_alive=False, workers=2), [5000, 6000, 7000, 8000, 10000]),
        ]),
        ("busybox httpd (lab probe)", "busybox", [(AIOHTTP, [500, 1000, 2000, 3000]), (fast_ka, [1000, 2000, 3000])]),
    ]
    for label, kind, probers in targets:
        port = free_port()
        url = f"http://{HOST}:{port}/"
        server = busybox_server(port) if kind == "busybox" else static_server(port, close=kind == "close")
        with server:
            wrk = closed_loop("wrk", url)
            hey = closed_loop("hey", url)
            for how, rates in probers:
                best, steps = ceiling(url, rates, how)
                top = best.rate if best else 0.0
                cpu = (best or steps[0]).cpu
                rows.append(
                    f"{label:<24}{how.label:<34}{top:>8.0f}{cpu * 1e6:>11.1f}{1 / cpu:>11.0f}"
                    f"{wrk:>11.0f}{hey:>11.0f}{top / wrk:>8.2f}{top / hey:>8.2f}"
                )
                details.append(
                    f"  {label}, {how.label}: "
                    + ", ".join(
                        f"{s.rate:.0f}/s {'ok' if s.sustained else 'NO'} (err {s.errors}"
                        f"{' ' + s.kinds if s.kinds else ''}, late {s.late:.1%}, p99 lag {s.p99 * 1e3:.1f} ms)"
                        for s in steps
                    )
                )
    print(header)
    print("\n".join(rows))
    print("steps:")
    print("\n".join(details))
    print("  1 core/CPU: the rate one whole core would sustain, from the CPU the prober spent per request")
    print("  (for two workers: their CPU together, so it stays the per-core figure).")
    print("  aiohttp, conn per request: aiohttp keeps its connections; the server closes each one.")
    print("  busybox httpd listens with a backlog of 9: a burst of connects beyond it drops SYNs, which")
    print("  then retry after 1 s: connect_timeout. wrk and hey keep 16 connections, never a burst.")

    for how in (AIOHTTP, fast_ka):
        print()
        print(f"(b) schedule skew, sent - due, static keep-alive server, {how.label}")
        print(f"{'rate':>8}{'requests':>10}{'p50 ms':>9}{'p99 ms':>9}{'max ms':>9}")
        port = free_port()
        with static_server(port):
            for rate in (200.0, 1000.0):
                records = probe(f"http://{HOST}:{port}/", rate, 3.0, how=how)
                lags = [r.sent - r.due for r in records if r.sent is not None]
                print(
                    f"{rate:>8.0f}{len(lags):>10}{statistics.median(lags) * 1e3:>9.3f}"
                    f"{quantile(lags, 0.99) * 1e3:>9.3f}{max(lags) * 1e3:>9.3f}"
                )

    for how in (AIOHTTP, fast_ka):
        print()
        print(f"(c) outage edges, {how.label}: the server refuses for 2.000 s; measured = longest run of `fail`")
        print(
            f"{'rate':>8}{'spacing ms':>12}{'truth s':>10}{'start err ms':>14}{'end err ms':>12}"
            f"{'within 2 spacings':>19}{'start err, info too':>21}"
        )
        for rate in (200.0, 1000.0):
            e = edge(rate, how=how)
            spacing = 1.0 / rate
            ok = abs(e.start) <= 2 * spacing and abs(e.end) <= 2 * spacing
            print(
                f"{rate:>8.0f}{spacing * 1e3:>12.1f}{e.truth:>10.4f}{e.start * 1e3:>14.2f}{e.end * 1e3:>12.2f}"
                f"{'yes' if ok else 'NO':>19}{e.start_not_ok * 1e3:>21.2f}"
            )
    print()
    print(f"bench took {time.monotonic() - began:.0f} s; load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--serve", type=int, help="(internal) run the static server on this port")
    parser.add_argument("--down-at", type=float)
    parser.add_argument("--outage", type=float)
    parser.add_argument("--close", action="store_true", help="(internal) one connection per request")
    ns = parser.parse_args()
    if ns.serve:
        StaticHttp.close = ns.close
        asyncio.run(serve(ns.serve, ns.down_at, ns.outage))
    else:
        main()
