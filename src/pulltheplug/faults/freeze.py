"""`freeze`: every process of the node stopped at once for the duration, then resumed.

A hung node, not a dead one: its kernel still completes TCP handshakes and holds its sockets, but nothing
answers; the swarm sees its heartbeats stop. Users feel timeouts (info) rather than refusals (fail).
"""

from __future__ import annotations

from pulltheplug.cluster.seam import Evidence
from pulltheplug.faults.base import Fault


class Freeze(Fault):
    kind = "freeze"

    def inject(self) -> Evidence:
        return self._act(lambda node: self.cluster.freeze(node, self.deadman))

    def revert(self) -> Evidence:
        return self._act(self.cluster.thaw)
