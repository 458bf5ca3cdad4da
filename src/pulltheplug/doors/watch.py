"""A door's own view of each node, polled and written as `door` events on the run clock (on every change)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from pulltheplug.doors.base import Door
from pulltheplug.records.events import DoorEvent, Event

log = logging.getLogger(__name__)


class DoorWatcher:
    def __init__(self, door: Door, clock: Callable[[], float], emit: Callable[[Event], None],
                 interval: float) -> None:
        self.door = door
        self.clock = clock
        self.emit = emit
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="door-watch", daemon=True)
        self._seen: dict[str, dict[str, str]] = {}
        self._silent = False

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def poll(self) -> None:
        """One look: an event per node whose state changed (all of them at the first look)."""
        try:
            now = self.door.backends()
            t = self.clock()  # dated once read: reading a door's view of its nodes may take a while (over SSH)
        except (OSError, ValueError) as exc:
            t = self.clock()
            if not self._silent:
                self._silent = True
                self.emit(DoorEvent(t=t, door=self.door.kind, state="silent", error=str(exc)[:160]))
            return
        self._silent = False
        for node, view in sorted(now.items()):
            if self._seen.get(node) != view:
                self._seen[node] = view
                self.emit(DoorEvent(t=t, door=self.door.kind, backend=node, state=view["state"],
                                    check=view.get("check"), addresses=view.get("addresses")))

    def _loop(self) -> None:
        while not self._stop.is_set():
            self.poll()
            self._stop.wait(self.interval)
