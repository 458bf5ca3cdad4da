"""The open-loop prober on raw asyncio protocols: `load.run_load`'s schedule, outcomes and records, for a
fraction of its CPU a request.

Measured on this machine (bench/prober.py, one core): aiohttp's client spends about 200 us of CPU on a
request, most of it in its session, request and response objects. Here a request is one write of bytes
built once per entry, on a pooled connection (or a new one per request with `keep_alive=False`), and
httptools' C parser reads the answer in the protocol's callbacks: no task, no object per request but
its own small state and its record. Run it on uvloop (`new_loop`) for the figures the README states.

The same rules as `run_load`: request k is due at start + k/rate whatever earlier ones did; latency
counts from due; ok is the expected answer, fail surely had no effect (no connection was ever made),
info may have (connected, then a timeout or a reset); a stale keep-alive connection that breaks before
any answer is retried once on a new one, as aiohttp and browsers do, within the same timeout. Plain
http to an address or a name (resolved again every DNS_CACHE_TTL s); https and a per-connection
resolver stay with `run_load`.

With `stride` > 1 this instance sends only requests k = offset, offset + stride, ... of the one schedule:
that is how several worker processes share one rate on one clock (see `load_workers`).
"""

from __future__ import annotations

import asyncio
import collections
import errno
import gc
import ipaddress
import logging
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import httptools
import uvloop
from yarl import URL

from pulltheplug.load.prober import (
    DNS_CACHE_TTL,
    GET,
    SERVER_HEADER,
    UNREACHABLE_ERRNOS,
    LoadStats,
    RequestShape,
    classify_answer,
    follow_schedule,
    served_by,
)
from pulltheplug.records.model import NOT_SENT, Outcome, RequestRecord

log = logging.getLogger(__name__)

_DOOR = SERVER_HEADER.lower().encode()
CONNECTS = 64  # connects in progress at once, an entry (see _Prober.acquire)
YOUNG_GC_EVERY = 0.1  # s between two collections of the young generations, while automatic collection is off
SWEEP = 0.005  # s between two looks for requests past their timeout (a timeout ends up to this late)
TICK = 0.001  # s: the shortest wait of the schedule; requests due within it go together, up to 1 ms late
_RETRIED = frozenset({"GET", "HEAD", "OPTIONS"})  # idempotent: safe to send again after a stale connection


def new_loop() -> asyncio.AbstractEventLoop:
    """uvloop: libuv's loop does the prober's socket work in C (about twice asyncio's throughput here)."""
    return uvloop.new_event_loop()


def can_carry(urls: list[str]) -> bool:
    """Plain http with a host: what this prober speaks (https goes to `run_load`)."""
    return all(URL(u).scheme == "http" and URL(u).host for u in urls)


def connect_error(exc: BaseException) -> str:
    """The kind of a failed connect, named as `load.classify_error` names aiohttp's."""
    code = exc.errno if isinstance(exc, OSError) else None
    if code == errno.ECONNREFUSED:
        return "refused"
    if code in UNREACHABLE_ERRNOS:
        return "unreachable"
    if code == errno.ETIMEDOUT or isinstance(exc, TimeoutError):
        return "connect_timeout"
    if isinstance(exc, socket.gaierror):
        return "dns"
    return f"other:{type(exc).__name__}"


@dataclass(slots=True, eq=False)
class _Request:
    k: int
    due: float
    entry: _Entry
    sent: float = 0.0
    conn: _Conn | None = None
    connecting: asyncio.Task[None] | None = None
    connected: bool = False  # some attempt of it got a connection: its bytes may have reached the server
    reused: bool = False  # on a pooled keep-alive connection (which the server may have closed meanwhile)
    retried: bool = False
    needs_conn: bool = False  # sent, waiting for its own connect or for a pooled connection to come free
    deadline: float = 0.0  # run seconds: sent + timeout
    done: bool = False


class _Entry:
    """One URL: its prebuilt request, its pool of idle connections and its share of the requests in flight."""

    __slots__ = ("addr", "addr_until", "busy", "connecting", "host", "idle", "limit", "literal", "name", "pending",
                 "port", "request", "unstarted", "waiting")

    def __init__(self, name: str, url: URL, shape: RequestShape, keep_alive: bool, limit: int) -> None:
        self.name = name
        self.host = url.host or ""
        self.port = url.port or 80
        try:
            ipaddress.ip_address(self.host)
            self.literal = True
        except ValueError:
            self.literal = False
        self.addr = self.host
        self.addr_until = 0.0
        head = [f"{shape.method} {url.raw_path_qs or '/'} HTTP/1.1", f"Host: {url.raw_authority}",
                "User-Agent: pulltheplug"]
        if not keep_alive:
            head.append("Connection: close")
        if shape.body is not None:
            head.append(f"Content-Length: {len(shape.body)}")
        self.request = ("\r\n".join(head) + "\r\n\r\n").encode() + (shape.body or b"")
        self.idle: list[_Conn] = []
        self.busy = 0  # requests of this entry sent and not ended (its gate, as run_load's semaphore)
        self.limit = limit
        self.waiting: collections.deque[tuple[int, float]] = collections.deque()  # at the gate: not sent yet
        self.pending: collections.deque[_Request] = collections.deque()  # sent, with no connection yet
        self.unstarted: collections.deque[_Request] = collections.deque()  # of those, the ones with no connect yet
        self.connecting = 0


class _Conn(asyncio.Protocol):
    """One connection and httptools' parser of its answers; it tells the prober what happened."""

    __slots__ = ("body", "door", "entry", "framed", "headers_done", "parser", "prober", "req",
                 "started", "transport")

    def __init__(self, prober: _Prober, entry: _Entry) -> None:
        self.prober = prober
        self.entry = entry
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.req: _Request | None = None
        self.body: list[bytes] = []
        self.door: bytes | None = None
        self.started = False  # some byte of the current answer came
        self.headers_done = False
        self.framed = False  # the answer says its length (or is chunked): else it ends when the server closes

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports do not subclass asyncio's

    def data_received(self, data: bytes) -> None:
        self.started = True
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self.prober.broken(self, f"other:{type(exc).__name__}")

    def on_header(self, name: bytes, value: bytes) -> None:
        lower = name.lower()
        if lower == _DOOR:
            self.door = value
        elif lower in (b"content-length", b"transfer-encoding"):
            self.framed = True

    def on_headers_complete(self) -> None:
        self.headers_done = True

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.prober.answered(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.prober.lost(self, exc)

    def reset(self) -> None:
        self.body = []
        self.door = None
        self.started = self.headers_done = self.framed = False


class _Prober:
    """The requests of one load: launched by the schedule, ended by their connection or their timer."""

    def __init__(self, entries: dict[str, str], timeout: float, t0: float, on_record: Callable[[RequestRecord], None],
                 per_entry: int, shape: RequestShape, keep_alive: bool, stats: LoadStats) -> None:
        self.entries = [_Entry(name, URL(url), shape, keep_alive, per_entry) for name, url in entries.items()]
        self.timeout = timeout
        self.t0 = t0
        self.on_record = on_record
        self.shape = shape
        self.keep_alive = keep_alive
        self.retry = shape.method in _RETRIED
        self.stats = stats
        self.loop = asyncio.get_running_loop()
        self.in_flight = 0
        self.by_deadline: collections.deque[_Request] = collections.deque()  # sent order is deadline order
        self.sweeper = self.loop.call_later(SWEEP, self.sweep)
        self.connects: set[asyncio.Task[None]] = set()
        self.errors: list[Exception] = []
        self.unexplained: set[str] = set()
        self.drained: asyncio.Future[None] | None = None  # set once scheduling stopped and nothing is in flight

    def launch(self, k: int, due: float) -> None:
        e = self.entries[k % len(self.entries)]
        if e.busy < e.limit:
            e.busy += 1
            self.start(_Request(k, due, e))
        else:
            e.waiting.append((k, due))

    def start(self, req: _Request) -> None:
        req.sent = sent = time.monotonic() - self.t0
        stats = self.stats
        lag = sent - req.due
        if lag > stats.max_lag:
            stats.max_lag = lag
        self.in_flight += 1
        if self.in_flight > stats.peak_in_flight:
            stats.peak_in_flight = self.in_flight
        req.deadline = sent + self.timeout
        self.by_deadline.append(req)
        self.acquire(req)

    def acquire(self, req: _Request) -> None:
        """A pooled connection if one is idle; else a connect of its own (at most CONNECTS at once an entry),
        and the request also takes whichever pooled connection comes free first.

        Without the race and the cap, a burst opens a connection a request and the pool grows by thousands,
        which slows the server, which grows the pool (measured at 20,000 req/s here: 38,000 connects in 3 s).
        A request that waits for a connect slot and times out is a fail connect_timeout, as its own connect
        would have been: it never reached the server.
        """
        e = req.entry
        if e.idle:
            req.connected = req.reused = True
            self.send(req, e.idle.pop())
            return
        req.needs_conn = True
        e.pending.append(req)
        if e.connecting < CONNECTS:
            self.open_for(req)
        else:
            e.unstarted.append(req)

    def open_for(self, req: _Request) -> None:
        req.entry.connecting += 1
        req.connecting = task = self.loop.create_task(self.connect(req))
        self.connects.add(task)
        task.add_done_callback(self.connects.discard)

    def connect_done(self, e: _Entry) -> None:
        """A connect slot came free: the oldest request still waiting without a connect of its own takes it."""
        e.connecting -= 1
        while e.unstarted and e.connecting < CONNECTS:
            req = e.unstarted.popleft()
            if req.needs_conn:
                self.open_for(req)
        while e.unstarted and not e.unstarted[0].needs_conn:
            e.unstarted.popleft()

    def hand_over(self, e: _Entry, conn: _Conn, opener: _Request | None = None, reused: bool = True) -> None:
        """A free connection goes to the request that opened it if it still waits, else to the oldest waiting
        one, else to the pool (closed instead when every request has a connection of its own)."""
        target = opener if opener is not None and opener.needs_conn else None
        while target is None and e.pending:
            head = e.pending.popleft()
            if head.needs_conn:
                target = head
        if target is not None:
            target.needs_conn = False
            while e.pending and not e.pending[0].needs_conn:  # served by their own connects: dropped here
                e.pending.popleft()
            target.connected = True
            target.reused = reused and target is not opener
            self.send(target, conn)
        elif self.keep_alive:
            e.idle.append(conn)
        elif conn.transport is not None:
            conn.transport.close()

    def send(self, req: _Request, conn: _Conn) -> None:
        req.conn = conn
        conn.req = req
        assert conn.transport is not None
        conn.transport.write(req.entry.request)

    async def connect(self, req: _Request) -> None:
        e = req.entry
        try:
            if not e.literal and e.addr_until <= self.loop.time():
                infos = await self.loop.getaddrinfo(e.host, e.port, type=socket.SOCK_STREAM)
                e.addr, e.addr_until = str(infos[0][4][0]), self.loop.time() + DNS_CACHE_TTL
            _, conn = await self.loop.create_connection(lambda: _Conn(self, e), e.addr, e.port)
        except asyncio.CancelledError:
            self.connect_done(e)
            return  # its timeout (or the load's end) ended it and wrote its record
        except OSError as exc:
            req.connecting = None
            self.connect_done(e)
            if req.needs_conn:  # it got no other connection meanwhile: this was its attempt
                req.needs_conn = False
                self.end(req, "info" if req.connected else "fail", None, connect_error(exc))
                self.release(e, None)
            return
        req.connecting = None
        self.connect_done(e)
        self.hand_over(e, conn, opener=req, reused=False)

    def answered(self, conn: _Conn) -> None:
        req = conn.req
        if req is None or req.done:  # an answer nobody asked for: the connection is not to be trusted
            if conn.transport is not None:
                conn.transport.abort()
            return
        conn.req = None
        status = conn.parser.get_status_code()
        body = b"".join(conn.body)
        node = task = None
        try:
            outcome, error = classify_answer(status, body, self.shape)
            if outcome == "ok":
                node, task = served_by(body)
            if node is None and conn.door and not conn.door.startswith(b"<"):  # "<NOSRV>": no node took it
                node = conn.door.decode(errors="replace")
        except Exception as exc:  # a bug here, not the cluster's doing: counted, and shown once with its traceback
            outcome, error = "info", f"other:{type(exc).__name__}"
            if error not in self.unexplained:
                self.unexplained.add(error)
                log.warning("request %d to %s counted as %s %s", req.k, req.entry.name, outcome, error,
                            exc_info=True)
        keep = self.keep_alive and conn.parser.should_keep_alive()
        conn.reset()
        self.end(req, outcome, status, error, node, task)
        if keep:
            self.release(req.entry, conn)
        else:
            if conn.transport is not None:
                conn.transport.close()
            self.release(req.entry, None)

    def broken(self, conn: _Conn, kind: str) -> None:
        req, conn.req = conn.req, None
        if conn.transport is not None:
            conn.transport.abort()
        if req is not None and not req.done:
            self.end(req, "info", None, kind)
            self.release(req.entry, None)

    def lost(self, conn: _Conn, exc: Exception | None) -> None:
        e = conn.entry
        req, conn.req = conn.req, None
        if req is None or req.done:
            if conn in e.idle:
                e.idle.remove(conn)
            return
        if conn.headers_done and not conn.framed and exc is None:  # the answer ran to the close: it is whole
            conn.req = req
            self.answered(conn)
            return
        if req.reused and not conn.started and self.retry and not req.retried:  # a stale pooled connection: once more
            req.reused = False
            req.retried = True
            req.conn = None
            self.acquire(req)
            return
        self.end(req, "info", None, "reset")
        self.release(e, None)

    def sweep(self) -> None:
        """Every SWEEP s: the requests past their deadline time out (one timer for all: a timer a request costs
        more CPU than the rest of its bookkeeping)."""
        now = time.monotonic() - self.t0
        queue = self.by_deadline
        while queue and (queue[0].done or queue[0].deadline <= now):
            req = queue.popleft()
            if not req.done:
                self.timed_out(req)
        self.sweeper = self.loop.call_later(SWEEP, self.sweep)

    def timed_out(self, req: _Request) -> None:
        if req.connecting is not None:
            req.connecting.cancel()
        req.needs_conn = False
        conn = req.conn
        if conn is not None:
            conn.req = None
            if conn.transport is not None:
                conn.transport.abort()
        connected = req.connected
        self.end(req, "info" if connected else "fail", None, "timeout" if connected else "connect_timeout")
        self.release(req.entry, None)

    def release(self, e: _Entry, conn: _Conn | None) -> None:
        """The entry's slot is free: its next waiting request takes it (and the connection, if one is kept)."""
        if conn is not None:
            self.hand_over(e, conn)
        if e.waiting:
            k, due = e.waiting.popleft()
            self.start(_Request(k, due, e))
        else:
            e.busy -= 1
            drained = self.drained
            if drained is not None and not drained.done() and not self.in_flight and not any(
                    x.waiting for x in self.entries):
                drained.set_result(None)

    def end(self, req: _Request, outcome: Outcome, status: int | None, error: str | None,
            node: str | None = None, task: str | None = None) -> None:
        req.done = True
        end = time.monotonic() - self.t0
        if req.connecting is not None and not req.connecting.done():  # served by another connection: its own
            self.loop.call_later(req.deadline - end, req.connecting.cancel)  # connect may pool one, until its timeout
        self.in_flight -= 1
        stats = self.stats
        if outcome == "ok":
            stats.ok += 1
        elif outcome == "fail":
            stats.fail += 1
        else:
            stats.info += 1
        if error is not None and error.startswith("other:") and error not in self.unexplained:
            self.unexplained.add(error)
            log.warning("request %d to %s counted as %s %s", req.k, req.entry.name, outcome, error)
        try:
            self.on_record(RequestRecord(req.k, req.due, req.sent, end, req.entry.name, outcome, status, error,
                                         node, task))
        except Exception as exc:  # the first one ends the load and is raised
            log.debug("recording request %d failed", req.k, exc_info=True)
            self.errors.append(exc)

    def abandon(self) -> None:
        """The load was cancelled: what was sent is info, interrupted; what waited was never sent."""
        now = time.monotonic() - self.t0
        for task in list(self.connects):
            task.cancel()
        self.sweeper.cancel()
        for req in [r for r in self.by_deadline if not r.done]:
            if req.connecting is not None:
                req.connecting.cancel()
            if req.conn is not None and req.conn.transport is not None:
                req.conn.req = None
                req.conn.transport.abort()
            self.end(req, "info", None, "interrupted")
        for e in self.entries:
            while e.waiting:
                k, due = e.waiting.popleft()
                self.stats.not_sent += 1
                self.on_record(RequestRecord(k, due, None, now, e.name, "fail", None, NOT_SENT))
            for conn in e.idle:
                if conn.transport is not None:
                    conn.transport.abort()
            e.idle.clear()

    def close_idle(self) -> None:
        self.sweeper.cancel()
        for task in list(self.connects):
            task.cancel()
        for e in self.entries:
            for conn in e.idle:
                if conn.transport is not None:
                    conn.transport.close()
            e.idle.clear()


async def run_fast_load(
    entries: dict[str, str],
    rate: float,
    timeout: float,
    t0: float,
    stop: asyncio.Event | float,
    on_record: Callable[[RequestRecord], None],
    max_in_flight: int = 4000,
    shape: RequestShape = GET,
    keep_alive: bool = True,
    offset: int = 0,
    stride: int = 1,
    start: float | None = None,
    until: float | None = None,
    hold_gc: bool = False,
) -> LoadStats:
    """`load.run_load`'s contract (see there), plus: `keep_alive` False opens a connection per request;
    `offset`/`stride` send only requests offset + j * stride of the schedule (one worker's share); `start` (run
    seconds) is when request 0 is due (default: now), the one schedule every worker shares; `until` is a
    deadline (run seconds) on top of a `stop` event; `hold_gc` holds the collector's full passes off while the
    load runs (process-wide: only for a process that does little else, as `pulltheplug load` and its workers)."""
    if not entries:
        raise ValueError("run_fast_load needs at least one entry")
    if rate <= 0 or timeout <= 0 or max_in_flight < 1 or stride < 1 or not 0 <= offset < stride:
        raise ValueError("rate, timeout, max_in_flight and stride must be positive, and offset below stride")
    if not can_carry(list(entries.values())):
        raise ValueError("run_fast_load speaks plain http only")
    clock = time.monotonic
    stats = LoadStats(start=clock() - t0 if start is None else start)
    per_entry = max(1, max_in_flight // stride // len(entries))
    prober = _Prober(entries, timeout, t0, on_record, per_entry, shape, keep_alive, stats)
    loop = prober.loop
    # The collector's full passes stall the loop for 15 ms and more once a run holds many objects (measured:
    # 48 requests sent >10 ms late at 3,000/s, none with it off). So it is off while the load runs, the young
    # generations (where connections and their cycles die) are collected every YOUNG_GC_EVERY s, and the full
    # pass comes back when the load ends. Process-wide, so only where asked (`hold_gc`): a run's controller
    # keeps its collector for the observer's and the faults' objects.
    collecting = hold_gc and gc.isenabled()
    if collecting:
        gc.disable()
    young_at = [0.0]

    def young(now: float) -> None:
        if collecting and now - young_at[0] >= YOUNG_GC_EVERY:
            gc.collect(1)
            young_at[0] = now

    try:
        stats.sent, stats.stopped = await follow_schedule(
            stats.start, rate, t0, stop, prober.launch, lambda: not prober.errors, first=offset, stride=stride,
            min_wait=TICK, until=until, each_pass=young)
        if prober.in_flight or any(e.waiting for e in prober.entries):
            prober.drained = loop.create_future()
            await prober.drained
        prober.close_idle()
    except asyncio.CancelledError:
        prober.abandon()
        raise
    finally:
        if collecting:
            gc.enable()
    if prober.errors:
        raise prober.errors[0]
    return stats
