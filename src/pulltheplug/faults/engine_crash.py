"""`engine-crash`: the container engine (dockerd and containerd) SIGKILLed while the node itself runs on.

Its containers keep running or die as the engine's live-restore says; the node's swarm agent is gone
until the engine is started again, so the managers see the node's heartbeats stop, as with a dead node,
while its tasks may still answer users.
"""

from __future__ import annotations

from pulltheplug.cluster.seam import Evidence
from pulltheplug.faults.base import Fault


class EngineCrash(Fault):
    kind = "engine-crash"

    def inject(self) -> Evidence:
        return self._act(self.cluster.crash_engine)

    def revert(self) -> Evidence:
        return self._act(self.cluster.start_engine)
