"""What a load sends and on which schedule, as values the probers and their workers share (and pickle).

`LoadPlan` is the load a spec asks for: where, how fast, how long a request may take, what a request is, how
many may be in flight, whether connections are kept. `Share` is one sender's part of the one open-loop
schedule: request k is due at start + k/rate, and a sender with offset o of stride s sends k = o, o + s, ...
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RequestShape:
    """What each request is and what counts as a good answer (the probe's default: GET, any 2xx)."""

    method: str = "GET"
    body: bytes | None = None
    expect_status: int | None = None  # None: any 2xx
    expect_body: re.Pattern[bytes] | None = None


GET = RequestShape()


@dataclass(frozen=True, slots=True)
class LoadPlan:
    """The load: requests at `rate` per second, round-robin over `entries` (name -> URL), each given `timeout`
    seconds, at most `max_in_flight` at once; `keep_alive` False opens a connection per request (the fast
    prober; aiohttp's pools them always)."""

    entries: Mapping[str, str]
    rate: float
    timeout: float
    shape: RequestShape = GET
    max_in_flight: int = 4000
    keep_alive: bool = True

    def check(self, prober: str) -> None:
        """ValueError, naming the prober, for a load that cannot be sent."""
        if not self.entries:
            raise ValueError(f"{prober} needs at least one entry")
        if self.rate <= 0 or self.timeout <= 0 or self.max_in_flight < 1:
            raise ValueError(f"{prober}: rate, timeout and max_in_flight must be positive")


@dataclass(frozen=True, slots=True)
class Share:
    """One sender's part of the schedule: requests offset, offset + stride, ...; `start` (run seconds) is when
    request 0 is due (None: when the sender starts), `until` a deadline (run seconds) on top of a stop event."""

    offset: int = 0
    stride: int = 1
    start: float | None = None
    until: float | None = None

    def __post_init__(self) -> None:
        if self.stride < 1 or not 0 <= self.offset < self.stride:
            raise ValueError("a share's stride must be positive and its offset below the stride")


WHOLE = Share()  # one sender, the whole schedule
