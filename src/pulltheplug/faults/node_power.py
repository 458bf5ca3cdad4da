"""`reboot` (graceful stop, then boot) and `power-loss` (every process killed at once, then boot).

Both boot the node the same way a machine boots: its runtime folder and stale pid file cleared, its disk
(dockerd's data root, swarm state included) kept, so the node rejoins by itself.
"""

from __future__ import annotations

from typing import Any

from pulltheplug.faults.base import Fault


class _Boots(Fault):
    def revert(self) -> dict[str, Any]:
        self.cluster.boot_node(self.node)
        running = self.cluster.node_running(self.node)
        return self._require(running, {"daemon_running": running}, "the node did not boot")

    def _off_evidence(self, extra: dict[str, Any]) -> dict[str, Any]:
        left = self.cluster.node_pids(self.node)
        evidence = {**extra, "processes_left": len(left), "daemon_running": self.cluster.node_running(self.node)}
        return self._require(not left, evidence, "processes of the node are still alive")


class Reboot(_Boots):
    kind = "reboot"

    def inject(self) -> dict[str, Any]:
        self.cluster.stop_node(self.node)
        return self._off_evidence({"stopped": "graceful"})


class PowerLoss(_Boots):
    kind = "power-loss"

    def inject(self) -> dict[str, Any]:
        killed = self.cluster.power_off_node(self.node)
        return self._off_evidence({"killed": killed})
