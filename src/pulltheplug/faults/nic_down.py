"""`nic-down`: the node's network interface goes down for the duration, then up (the seed's first experiment)."""

from __future__ import annotations

from pulltheplug.cluster.seam import Evidence
from pulltheplug.faults.base import Fault


class NicDown(Fault):
    kind = "nic-down"

    def inject(self) -> Evidence:
        return self._act(lambda node: self.cluster.nic_down(node, self.duration))

    def revert(self) -> Evidence:
        return self._act(self.cluster.nic_up)
