"""Ctrl-C and SIGTERM during a run: a request to stop, never an exception in the middle of a revert.

Handlers, not a signal mask (as chaostoolkit-lib's `exit_signals`): Python runs a handler on the main thread
whichever thread the kernel gave the signal to, so a mask on the main thread alone did not hold: the signal
went to an observer thread, and the default handler then raised KeyboardInterrupt in the main thread halfway
through the reverts. Here no signal raises anything: the first sets `requested` and calls what the runner
registered (cancel its event loop's main task); later ones are only logged, so every revert and the swarm
settings' restore run to their end. The old handlers come back when the block ends.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType

log = logging.getLogger(__name__)

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class StopRequested(KeyboardInterrupt):
    """A stop signal came: what Ctrl-C raised before, so callers that knew KeyboardInterrupt still do."""


@dataclass
class StopSignals:
    """What stop signals came during the block, and what to do at the first one."""

    requested: threading.Event = field(default_factory=threading.Event)
    received: list[tuple[float, str]] = field(default_factory=list)  # (monotonic, signal name), in order
    _on_stop: Callable[[], object] | None = None

    def handle(self, signum: int, frame: FrameType | None = None) -> None:
        """The handler: the first signal asks the run to stop; the next ones are said, and change nothing."""
        name = signal.Signals(signum).name
        self.received.append((time.monotonic(), name))
        if self.requested.is_set():
            log.warning("%s again: already stopping; the reverts and records finish first (SIGKILL leaves the "
                        "faults to their dead-man)", name)
            return
        self.requested.set()
        log.warning("%s: stopping the run; whatever it changed is reverted first", name)
        if self._on_stop is not None:
            self._on_stop()

    @contextmanager
    def calling(self, on_stop: Callable[[], object]) -> Iterator[None]:
        """Within the block, the first signal also calls `on_stop` (at once, if one already came)."""
        self._on_stop = on_stop
        try:
            if self.requested.is_set():
                on_stop()
            yield
        finally:
            self._on_stop = None

    def check(self) -> None:
        """Raise StopRequested if a stop signal came: the runner's own points to stop between steps."""
        if self.requested.is_set():
            raise StopRequested(self.received[0][1] if self.received else "stop")

    def sleep(self, seconds: float) -> None:
        """Sleep, but raise StopRequested as soon as a stop signal came (within 0.2 s: a handler runs only
        when the main thread wakes, which a signal taken by another thread does not make it do)."""
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0 and not self.requested.wait(min(left, 0.2)):
            pass
        self.check()


@contextmanager
def stop_signals() -> Iterator[StopSignals]:
    """SIGINT and SIGTERM handled by a `StopSignals` for the block; the old handlers back after it. Off the
    main thread (where Python cannot set handlers) the block runs with the signals as they are."""
    stops = StopSignals()
    if threading.current_thread() is not threading.main_thread():
        yield stops
        return
    old = {s: signal.signal(s, stops.handle) for s in STOP_SIGNALS}
    try:
        yield stops
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)
