"""`nic-down`: the node's eth0 goes down for the duration, then up (the seed's first experiment)."""

from __future__ import annotations

from typing import Any

from pulltheplug.faults.base import Fault


class NicDown(Fault):
    kind = "nic-down"

    def inject(self) -> dict[str, Any]:
        self.cluster.set_nic(self.node, False)
        up = self.cluster.nic_is_up(self.node)
        return self._require(not up, {"eth0_up": up}, "eth0 is still up")

    def revert(self) -> dict[str, Any]:
        self.cluster.set_nic(self.node, True)
        up = self.cluster.nic_is_up(self.node)
        return self._require(up, {"eth0_up": up}, "eth0 did not come back up")
