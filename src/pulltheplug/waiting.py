"""Waiting for something to become true, the one way: poll it until it does or a timeout passes.

`clock` and `sleep` are injectable, so tests wait on a fake clock instead of a real one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def wait_until(done: Callable[[], T], timeout: float, interval: float = 0.05, *,
               clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], object] = time.sleep) -> T | None:
    """What `done()` returned the first time it was truthy; None when it never was within `timeout` (it is
    asked at least once, and once more at the deadline, so a slow last sleep cannot miss it)."""
    deadline = clock() + timeout
    while True:
        got = done()
        if got:
            return got
        left = deadline - clock()
        if left <= 0:
            return None
        sleep(min(interval, left))
