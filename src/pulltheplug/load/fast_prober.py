"""The fast prober's engine: the requests of one load, launched by the schedule, each ended by its connection
(load/fast_wire.py) or by one timer sweep for all timeouts."""

from __future__ import annotations

import asyncio
import collections
import logging
import socket
import time
from collections.abc import Callable

from yarl import URL

from pulltheplug.load.fast_wire import FastConn, FastEntry, FastRequest, connect_error
from pulltheplug.load.plan import RequestShape
from pulltheplug.load.prober import (
    DNS_CACHE_TTL,
    LoadStats,
    classify_answer,
    served_by,
)
from pulltheplug.records.model import NOT_SENT, Outcome, RequestRecord

log = logging.getLogger(__name__)

CONNECTS = 64  # connects in progress at once, an entry (see Prober.acquire)
YOUNG_GC_EVERY = 0.1  # s between two collections of the young generations, while automatic collection is off
SWEEP = 0.005  # s between two looks for requests past their timeout (a timeout ends up to this late)
TICK = 0.001  # s: the shortest wait of the schedule; requests due within it go together, up to 1 ms late
_RETRIED = frozenset({"GET", "HEAD", "OPTIONS"})  # idempotent: safe to send again after a stale connection


class Prober:
    """The requests of one load: launched by the schedule, ended by their connection or their timer."""

    def __init__(self, entries: dict[str, str], timeout: float, t0: float, on_record: Callable[[RequestRecord], None],
                 per_entry: int, shape: RequestShape, keep_alive: bool, stats: LoadStats) -> None:
        self.entries = [FastEntry(name, URL(url), shape, keep_alive, per_entry) for name, url in entries.items()]
        self.timeout = timeout
        self.t0 = t0
        self.on_record = on_record
        self.shape = shape
        self.keep_alive = keep_alive
        self.retry = shape.method in _RETRIED
        self.stats = stats
        self.loop = asyncio.get_running_loop()
        self.in_flight = 0
        self.by_deadline: collections.deque[FastRequest] = collections.deque()  # sent order is deadline order
        self.sweeper = self.loop.call_later(SWEEP, self.sweep)
        self.connects: set[asyncio.Task[None]] = set()
        self.errors: list[Exception] = []
        self.unexplained: set[str] = set()
        self.drained: asyncio.Future[None] | None = None  # set once scheduling stopped and nothing is in flight

    def launch(self, k: int, due: float) -> None:
        e = self.entries[k % len(self.entries)]
        if e.busy < e.limit:
            e.busy += 1
            self.start(FastRequest(k, due, e))
        else:
            e.waiting.append((k, due))

    def start(self, req: FastRequest) -> None:
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

    def acquire(self, req: FastRequest) -> None:
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

    def open_for(self, req: FastRequest) -> None:
        req.entry.connecting += 1
        req.connecting = task = self.loop.create_task(self.connect(req))
        self.connects.add(task)
        task.add_done_callback(self.connects.discard)

    def connect_done(self, e: FastEntry) -> None:
        """A connect slot came free: the oldest request still waiting without a connect of its own takes it."""
        e.connecting -= 1
        while e.unstarted and e.connecting < CONNECTS:
            req = e.unstarted.popleft()
            if req.needs_conn:
                self.open_for(req)
        while e.unstarted and not e.unstarted[0].needs_conn:
            e.unstarted.popleft()

    def hand_over(self, e: FastEntry, conn: FastConn, opener: FastRequest | None = None, reused: bool = True) -> None:
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

    def send(self, req: FastRequest, conn: FastConn) -> None:
        req.conn = conn
        conn.req = req
        assert conn.transport is not None
        conn.transport.write(req.entry.request)

    async def connect(self, req: FastRequest) -> None:
        e = req.entry
        try:
            if not e.literal and e.addr_until <= self.loop.time():
                infos = await self.loop.getaddrinfo(e.host, e.port, type=socket.SOCK_STREAM)
                e.addr, e.addr_until = str(infos[0][4][0]), self.loop.time() + DNS_CACHE_TTL
            _, conn = await self.loop.create_connection(lambda: FastConn(self, e), e.addr, e.port)
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

    def answered(self, conn: FastConn) -> None:
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

    def broken(self, conn: FastConn, kind: str) -> None:
        req, conn.req = conn.req, None
        if conn.transport is not None:
            conn.transport.abort()
        if req is not None and not req.done:
            self.end(req, "info", None, kind)
            self.release(req.entry, None)

    def lost(self, conn: FastConn, exc: Exception | None) -> None:
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

    def timed_out(self, req: FastRequest) -> None:
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

    def release(self, e: FastEntry, conn: FastConn | None) -> None:
        """The entry's slot is free: its next waiting request takes it (and the connection, if one is kept)."""
        if conn is not None:
            self.hand_over(e, conn)
        if e.waiting:
            k, due = e.waiting.popleft()
            self.start(FastRequest(k, due, e))
        else:
            e.busy -= 1
            drained = self.drained
            if drained is not None and not drained.done() and not self.in_flight and not any(
                    x.waiting for x in self.entries):
                drained.set_result(None)

    def end(self, req: FastRequest, outcome: Outcome, status: int | None, error: str | None,
            node: str | None = None, task: str | None = None) -> None:
        req.done = True
        end = time.monotonic() - self.t0
        if req.connecting is not None and not req.connecting.done():  # served by another connection: its own
            self.loop.call_later(req.deadline - end, req.connecting.cancel)  # connect may pool one, until its timeout
        self.in_flight -= 1
        self.stats.count(outcome)
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
