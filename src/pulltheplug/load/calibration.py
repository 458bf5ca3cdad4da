"""How many requests a second the fast prober can send from one core here, measured at start.

A rate above what the client can send turns the measurement into one of the client: requests go out late
(latency still counts from due, so it all looks like the service's). `pulltheplug load` warns before it
starts, and the summary flags the run, when the rate is above the workers' measured capacity.

The calibration is a real exchange on loopback only: a static HTTP server on 127.0.0.1 in a thread of
this process, the prober in this thread for CALIBRATION_S, and this thread's own CPU time (RUSAGE_THREAD)
per request, so the server's work is not counted. Bounded: CALIBRATION_RATE x CALIBRATION_S requests.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import resource
import threading
import time
from typing import cast

from pulltheplug.load.fast import new_loop, run_fast_load
from pulltheplug.load.plan import LoadPlan
from pulltheplug.records.model import RequestRecord

log = logging.getLogger(__name__)

CALIBRATION_RATE = 8000.0  # high enough that the loop's fixed wake-ups do not dominate the cost a request
CALIBRATION_S = 0.3
_BODY = b"node=calibration task=static\n"
_ANSWER = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(_BODY), _BODY)
_CLOSE = b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(_BODY), _BODY)


class _Static(asyncio.Protocol):
    """One static answer per request (keep-alive, or closing when the request asks)."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        self.buf = b""

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while b"\r\n\r\n" in self.buf:
            head, self.buf = self.buf.split(b"\r\n\r\n", 1)
            if b"Connection: close" in head:
                self.transport.write(_CLOSE)
                self.transport.close()
                return
            self.transport.write(_ANSWER)


def _thread_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_THREAD)
    return usage.ru_utime + usage.ru_stime


HEADROOM = 0.9  # a rate above this share of the capacity is flagged: the client would be the bottleneck


def per_core_rate(keep_alive: bool = True) -> float | None:
    """Requests a second one core of this machine can send with the fast prober; None if it cannot be told."""
    ready = threading.Event()
    box: dict[str, object] = {}

    def serve() -> None:
        loop = new_loop()
        asyncio.set_event_loop(loop)
        server = loop.run_until_complete(loop.create_server(_Static, "127.0.0.1", 0, backlog=4096))
        box["port"], box["loop"] = server.sockets[0].getsockname()[1], loop
        ready.set()
        loop.run_forever()
        server.close()
        loop.run_until_complete(server.wait_closed())
        loop.close()

    thread = threading.Thread(target=serve, name="calibration-server", daemon=True)
    thread.start()
    if not ready.wait(5):
        return None
    loop = cast(asyncio.AbstractEventLoop, box["loop"])
    records: list[RequestRecord] = []
    try:
        url = f"http://127.0.0.1:{box['port']}/"
        before = _thread_cpu()
        with asyncio.Runner(loop_factory=new_loop) as runner:
            plan = LoadPlan({"calibration": url}, CALIBRATION_RATE, 1.0, keep_alive=keep_alive)
            runner.run(run_fast_load(plan, time.monotonic(), CALIBRATION_S, records.append))
        cpu = _thread_cpu() - before
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
    ok = sum(r.outcome == "ok" for r in records)
    log.debug("calibration errors: %s", collections.Counter(r.error for r in records if r.error))
    if ok < len(records) * 0.9 or cpu <= 0:
        log.debug("calibration not usable: %d of %d ok, %.3f s CPU", ok, len(records), cpu)
        return None
    return len(records) / cpu
