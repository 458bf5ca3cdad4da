"""`freeze`: every process of the node stopped at once (cgroup freezer) for the duration, then resumed.

A hung node, not a dead one: its kernel still completes TCP handshakes and holds its sockets, but nothing
answers; the swarm sees its heartbeats stop. Users feel timeouts (info) rather than refusals (fail).
"""

from __future__ import annotations

from typing import Any

from pulltheplug.faults.base import Fault


class Freeze(Fault):
    kind = "freeze"

    def inject(self) -> dict[str, Any]:
        self.cluster.freeze_node(self.node, True)
        frozen = self.cluster.node_frozen(self.node)
        return self._require(frozen, {"frozen": frozen, "processes": len(self.cluster.node_pids(self.node))},
                             "the node is not frozen")

    def revert(self) -> dict[str, Any]:
        self.cluster.freeze_node(self.node, False)
        frozen = self.cluster.node_frozen(self.node)
        return self._require(not frozen, {"frozen": frozen}, "the node is still frozen")
