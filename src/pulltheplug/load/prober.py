"""The open-loop load: request k is due at start + k/rate whatever earlier ones did, as in wrk2.

A closed-loop client slows down when the service does and so hides an outage; here a late request is
still sent (its lag, sent - due, is recorded) and its latency counts from `due`. Every request gives
exactly one `RequestRecord`, classified as Jepsen does: ok (2xx), fail (surely had no effect), info
(unknown: it may have been served); one the run was stopped before it could send is marked not sent.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import errno
import logging
import re
import time
from collections import Counter
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import aiohttp.abc
from aiohttp.client_reqrep import ClientRequest
from aiohttp.tracing import Trace
from yarl import URL

from pulltheplug.cluster.netns import enter_netns
from pulltheplug.load.plan import LoadPlan, RequestShape, Share
from pulltheplug.records.model import NOT_SENT, Outcome, RequestRecord

log = logging.getLogger(__name__)

_SERVED_BY = re.compile(rb"node=(\S+) task=(\S+)")
UNREACHABLE_ERRNOS = frozenset({errno.EHOSTUNREACH, errno.ENETUNREACH, errno.ENETDOWN, errno.EHOSTDOWN})
_RESET = frozenset({errno.ECONNRESET, errno.EPIPE, errno.ECONNABORTED})
DNS_CACHE_TTL = 10  # seconds; entries are usually addresses anyway


@dataclass
class LoadStats:
    """What the load did, for meta.json and a quick sanity check; the records hold the detail."""

    start: float  # run seconds when request 0 was due
    stopped: float = 0.0  # run seconds when scheduling stopped
    sent: int = 0
    ok: int = 0
    fail: int = 0
    info: int = 0
    not_sent: int = 0  # cancelled while waiting for a free slot (the run was stopped)
    max_lag: float = 0.0  # worst sent - due
    peak_in_flight: int = 0

    def count(self, outcome: str) -> None:
        """One more request ended with `outcome` (ok, fail or info)."""
        if outcome == "ok":
            self.ok += 1
        elif outcome == "fail":
            self.fail += 1
        else:
            self.info += 1


class _Attempt:
    """Did this request get a connection? Then its bytes may have reached the server: fail vs info."""

    __slots__ = ("connected",)

    def __init__(self) -> None:
        self.connected = False


_ATTEMPT: ContextVar[_Attempt | None] = ContextVar("pulltheplug_load_attempt", default=None)


class _Connector(aiohttp.TCPConnector):
    """Marks the current request as connected: aiohttp tracing would tell too, for ~15% more CPU a request.

    Nothing waits between getting the connection and writing the request, so connected means sent.
    """

    async def connect(
        self, req: ClientRequest, traces: list[Trace], timeout: aiohttp.ClientTimeout
    ) -> aiohttp.connector.Connection:
        conn = await super().connect(req, traces, timeout)
        attempt = _ATTEMPT.get()
        if attempt is not None:
            attempt.connected = True
        return conn


SERVER_HEADER = "X-Ptp-Server"  # a door that names the node it sent a request to (our HAProxy does)


def classify_status(status: int, expect: int | None = None) -> tuple[Outcome, str | None]:
    """2xx (or the expected status) is ok; any other answer says the request was refused, so it had no
    effect: fail."""
    if (200 <= status < 300) if expect is None else status == expect:
        return "ok", None
    return "fail", f"http_{status // 100}xx"


def classify_answer(status: int, body: bytes, shape: RequestShape) -> tuple[Outcome, str | None]:
    """The status first; then the body must match where the spec says what it holds (else body_mismatch)."""
    outcome, error = classify_status(status, shape.expect_status)
    if outcome == "ok" and shape.expect_body is not None and shape.expect_body.search(body) is None:
        return "fail", "body_mismatch"
    return outcome, error


def classify_error(exc: BaseException, connected: bool) -> tuple[Outcome, str]:
    """Jepsen's rule: fail only when no attempt of the request got a connection (no effect), else info.

    aiohttp retries a GET once when its connection breaks, so a refused retry after a connected attempt
    is still info: the first attempt may have been served.
    """
    if isinstance(exc, aiohttp.ClientConnectorError):  # this attempt never got a connection
        code = exc.os_error.errno
        if code == errno.ECONNREFUSED:
            kind = "refused"
        elif code in UNREACHABLE_ERRNOS:
            kind = "unreachable"
        elif code == errno.ETIMEDOUT:
            kind = "connect_timeout"
        else:
            kind = f"other:{type(exc).__name__}"
    elif isinstance(exc, TimeoutError):  # asyncio's total timeout and aiohttp's ServerTimeoutError alike
        connecting = isinstance(exc, aiohttp.ConnectionTimeoutError) or not connected
        kind = "connect_timeout" if connecting else "timeout"
    elif isinstance(exc, aiohttp.ServerDisconnectedError | ConnectionResetError) or (
        isinstance(exc, OSError) and exc.errno in _RESET
    ):
        kind = "reset"
    else:
        kind = f"other:{type(exc).__name__}"
    return ("info" if connected else "fail"), kind


def served_by(body: bytes) -> tuple[str | None, str | None]:
    """The probe answers `node=<node> task=<task>`; any other body names nobody."""
    m = _SERVED_BY.search(body)
    if m is None:
        return None, None
    return m.group(1).decode(errors="replace"), m.group(2).decode(errors="replace")


def _session(urls: list[URL], per_entry: int, timeout: float,
             resolver: aiohttp.abc.AbstractResolver | None = None) -> aiohttp.ClientSession:
    """One keep-alive session, as real clients (browsers, proxies, SDKs) use.

    Keep-alive is what users feel when a node dies silently: a pooled connection to it accepts the
    request and then times out (info), while a new one fails to connect (fail); force_close would show
    only the latter. limit_per_host is each entry's share of max_in_flight, so the sockets of one
    blackholed entry, each held until its timeout, cannot starve the healthy entries. Our own per-entry
    semaphores hold the same share, so a request waits there (as lag, before `sent`) and never in
    aiohttp's pool, where the wait would eat its timeout. Like browsers, aiohttp retries a GET once on
    a broken connection (a stale keep-alive one), within the same total timeout.
    """
    per_host = per_entry * max(Counter((u.host, u.port) for u in urls).values())
    if resolver is None:
        connector = _Connector(limit=per_entry * len(urls), limit_per_host=per_host, ttl_dns_cache=DNS_CACHE_TTL)
    else:  # asked at every new connection, as a client without a DNS cache does
        connector = _Connector(limit=per_entry * len(urls), limit_per_host=per_host, resolver=resolver,
                               use_dns_cache=False)
    return aiohttp.ClientSession(
        connector=connector,
        timeout=aiohttp.ClientTimeout(total=timeout),
        trust_env=False,  # never through a proxy from the environment: we measure the cluster itself
        cookie_jar=aiohttp.DummyCookieJar(),
        auto_decompress=False,
        headers={"User-Agent": "pulltheplug"},
    )


async def follow_schedule(rate: float, share: Share, t0: float, stop: asyncio.Event | float,
                          launch: Callable[[int, float], None], going: Callable[[], bool], min_wait: float = 0.0,
                          each_pass: Callable[[float], None] | None = None) -> tuple[int, float]:
    """The open-loop schedule, shared by both probers: `launch(k, due)` for the share's k (offset, offset +
    stride, ...) at due = start + k/rate (start: the share's, else now), late ones at once, until `stop` (an
    event, or a deadline in run seconds; the share's `until` is a deadline on top), or until `going()` says no.
    Requests already due when the event comes still go: none vanishes. Returns how many were launched and when
    the schedule stopped (run seconds). `min_wait`: the loop's timer step (a shorter wait would spin);
    `each_pass(now)` runs on every pass.
    """
    loop = asyncio.get_running_loop()
    clock = time.monotonic
    start = clock() - t0 if share.start is None else share.start
    stop_wait = loop.create_task(stop.wait()) if isinstance(stop, asyncio.Event) else None
    deadline = float("inf") if isinstance(stop, asyncio.Event) else stop
    if share.until is not None:
        deadline = min(deadline, share.until)
    told = False  # the stop event was seen
    k, launched, stride = share.offset, 0, share.stride
    try:
        while going():
            now = clock() - t0
            if each_pass is not None:
                each_pass(now)
            if stop_wait is not None and stop_wait.done() and not told:
                told = True
                deadline = min(deadline, now)
            due = start + k / rate
            if due >= deadline:
                break
            if due > now:  # ahead of schedule; when late, launch every overdue request at once
                wait = max(due - now, min_wait)
                if stop_wait is None:
                    await asyncio.sleep(wait)
                else:
                    await asyncio.wait((stop_wait,), timeout=wait)
                continue
            launch(k, due)
            k += stride
            launched += 1
    finally:
        if stop_wait is not None:
            stop_wait.cancel()
    return launched, clock() - t0


async def run_load(plan: LoadPlan, t0: float, stop: asyncio.Event | float, on_record: Callable[[RequestRecord], None],
                   resolver: aiohttp.abc.AbstractResolver | None = None) -> LoadStats:
    """Send the plan's requests (GETs unless its `shape` says otherwise) at its rate, round-robin over its
    entries, until `stop`.

    `stop` is an event or a deadline in run seconds (since `t0`, a time.monotonic() reading). No
    request is due at or after it; the ones in flight are awaited (each has `timeout`), so when this
    returns every due request has its record. `on_record` is called on the event loop; if it raises,
    the load stops and the error is raised once the requests in flight are done.
    """
    plan.check("run_load")
    entries, shape = plan.entries, plan.shape
    names = list(entries)
    urls = [URL(entries[name]) for name in names]
    n = len(names)
    per_entry = max(1, plan.max_in_flight // n)
    gates = [asyncio.Semaphore(per_entry) for _ in names]
    loop = asyncio.get_running_loop()
    clock = time.monotonic
    tasks: set[asyncio.Task[None]] = set()
    errors: list[Exception] = []
    unexplained: set[str] = set()  # the "other:..." error kinds already logged, once each: a dead node gives thousands
    in_flight = 0
    stats = LoadStats(start=clock() - t0)

    async def one(session: aiohttp.ClientSession, k: int, due: float) -> None:
        """A request cancelled (the run killed) still gets its record: not sent while it waited at its
        entry's gate, else info, interrupted."""
        sent: float | None = None
        try:
            async with gates[k % n]:
                sent = clock() - t0
                await send(session, k, due, sent)
        except asyncio.CancelledError:
            now = clock() - t0
            if sent is None:
                stats.not_sent += 1
                on_record(RequestRecord(k, due, None, now, names[k % n], "fail", None, NOT_SENT))
            else:
                stats.info += 1
                on_record(RequestRecord(k, due, sent, now, names[k % n], "info", None, "interrupted"))
            raise

    async def send(session: aiohttp.ClientSession, k: int, due: float, sent: float) -> None:
        """The request itself, its entry's gate held: from `sent` to its answer or error."""
        nonlocal in_flight
        i = k % n
        in_flight += 1
        stats.peak_in_flight = max(stats.peak_in_flight, in_flight)
        attempt = _Attempt()
        _ATTEMPT.set(attempt)  # each request runs in its own task, so in its own context
        status: int | None = None
        node = task = error = None
        try:
            async with session.request(shape.method, urls[i], data=shape.body, allow_redirects=False) as resp:
                status = resp.status
                body = await resp.read()
                door_said = resp.headers.get(SERVER_HEADER)
            outcome, error = classify_answer(status, body, shape)
            if outcome == "ok":
                node, task = served_by(body)
            if node is None and door_said and not door_said.startswith("<"):  # "<NOSRV>": no node took it
                node = door_said
        except Exception as exc:
            outcome, error = classify_error(exc, attempt.connected)
            if error.startswith("other:") and error not in unexplained:
                unexplained.add(error)  # not a network error is a bug here, not the cluster's doing
                log.log(logging.DEBUG if isinstance(exc, aiohttp.ClientError | OSError) else logging.WARNING,
                        "request %d to %s counted as %s %s", k, names[i], outcome, error, exc_info=True)
        end = clock() - t0
        in_flight -= 1
        stats.max_lag = max(stats.max_lag, sent - due)
        stats.count(outcome)
        record = RequestRecord(k, due, sent, end, names[i], outcome, status, error, node, task)
        try:
            on_record(record)
        except Exception as exc:  # the first one ends the load and is raised
            log.debug("recording request %d failed", k, exc_info=True)
            errors.append(exc)

    async with _session(urls, per_entry, plan.timeout, resolver) as session:

        def launch(k: int, due: float) -> None:
            launched = loop.create_task(one(session, k, due))
            tasks.add(launched)
            launched.add_done_callback(tasks.discard)

        try:
            stats.sent, stats.stopped = await follow_schedule(plan.rate, Share(start=stats.start), t0, stop, launch,
                                                              lambda: not errors)
            while tasks:
                await asyncio.wait(tasks)
        finally:
            for t in tasks:  # left only on cancellation: the normal path awaited them all
                t.cancel()
            if tasks:
                await asyncio.gather(*tasks, return_exceptions=True)
    if errors:
        raise errors[0]
    return stats


async def run_load_in_netns(netns: Path, plan: LoadPlan, t0: float, stop: asyncio.Event,
                            on_record: Callable[[RequestRecord], None],
                            make_resolver: Callable[[], aiohttp.abc.AbstractResolver | None] | None) -> LoadStats:
    """`run_load` from inside another network namespace (a client container's: requests from within the swarm),
    on a thread of its own with its own event loop; `stop` (this loop's) is passed on to it. Records are handed
    to `on_record` on that thread."""
    caller = asyncio.get_running_loop()
    ready: concurrent.futures.Future[tuple[asyncio.AbstractEventLoop, asyncio.Event]] = concurrent.futures.Future()

    def thread() -> LoadStats:
        try:
            enter_netns(netns)
        except OSError as exc:
            ready.set_exception(exc)  # whoever waits to stop this load learns it never started
            raise

        async def inner() -> LoadStats:
            own_stop = asyncio.Event()
            ready.set_result((asyncio.get_running_loop(), own_stop))
            return await run_load(plan, t0, own_stop, on_record, make_resolver() if make_resolver else None)

        return asyncio.run(inner())

    def tell_stop(f: concurrent.futures.Future[tuple[asyncio.AbstractEventLoop, asyncio.Event]]) -> None:
        if not f.cancelled() and f.exception() is None:
            other, own_stop = f.result()
            other.call_soon_threadsafe(own_stop.set)

    # a thread of its own, ended with the load: a pooled thread left in that namespace would serve others
    own = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="load-netns")
    done: asyncio.Future[LoadStats] = caller.run_in_executor(own, thread)
    own.shutdown(wait=False)
    waiter: asyncio.Future[bool] = asyncio.ensure_future(stop.wait())
    try:
        await asyncio.wait([done, waiter], return_when=asyncio.FIRST_COMPLETED)  # type: ignore[type-var]
    finally:  # stopped, or this task cancelled (Ctrl-C): the thread's load stops too, once it has a loop
        waiter.cancel()
        if not done.done():
            ready.add_done_callback(tell_stop)
    return await done
