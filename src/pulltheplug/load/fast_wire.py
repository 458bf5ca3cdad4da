"""The fast prober's wire: one connection (a protocol with httptools' C parser) and the state of one URL and one
request; what happened on the wire goes back to the prober (load/fast.py), which keeps the schedule and records."""

from __future__ import annotations

import asyncio
import collections
import errno
import ipaddress
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, cast

import httptools
from yarl import URL

from pulltheplug.load.plan import RequestShape
from pulltheplug.load.prober import SERVER_HEADER, UNREACHABLE_ERRNOS

if TYPE_CHECKING:
    from pulltheplug.load.fast_prober import Prober

_DOOR = SERVER_HEADER.lower().encode()


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
class FastRequest:
    k: int
    due: float
    entry: FastEntry
    sent: float = 0.0
    conn: FastConn | None = None
    connecting: asyncio.Task[None] | None = None
    connected: bool = False  # some attempt of it got a connection: its bytes may have reached the server
    reused: bool = False  # on a pooled keep-alive connection (which the server may have closed meanwhile)
    retried: bool = False
    needs_conn: bool = False  # sent, waiting for its own connect or for a pooled connection to come free
    deadline: float = 0.0  # run seconds: sent + timeout
    done: bool = False


class FastEntry:
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
        self.idle: list[FastConn] = []
        self.busy = 0  # requests of this entry sent and not ended (its gate, as run_load's semaphore)
        self.limit = limit
        self.waiting: collections.deque[tuple[int, float]] = collections.deque()  # at the gate: not sent yet
        self.pending: collections.deque[FastRequest] = collections.deque()  # sent, with no connection yet
        self.unstarted: collections.deque[FastRequest] = collections.deque()  # of those, the ones with no connect yet
        self.connecting = 0


class FastConn(asyncio.Protocol):
    """One connection and httptools' parser of its answers; it tells the prober what happened."""

    __slots__ = ("body", "door", "entry", "framed", "headers_done", "parser", "prober", "req",
                 "started", "transport")

    def __init__(self, prober: Prober, entry: FastEntry) -> None:
        self.prober = prober
        self.entry = entry
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.req: FastRequest | None = None
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
