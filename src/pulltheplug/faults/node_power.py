"""`reboot` (graceful stop, then boot) and `power-loss` (every process gone at once, then boot).

Both boot the node the way a machine boots: its runtime state cleared, its disk (the engine's data,
swarm state included) kept, so the node rejoins by itself.
"""

from __future__ import annotations

from pulltheplug.cluster.seam import Evidence
from pulltheplug.faults.base import Fault


class Reboot(Fault):
    kind = "reboot"

    def inject(self) -> Evidence:
        return self._act(self.cluster.shut_down)

    def revert(self) -> Evidence:
        return self._act(self.cluster.boot)


class PowerLoss(Fault):
    kind = "power-loss"

    def inject(self) -> Evidence:
        return self._act(self.cluster.power_off)

    def revert(self) -> Evidence:
        return self._act(self.cluster.boot)
