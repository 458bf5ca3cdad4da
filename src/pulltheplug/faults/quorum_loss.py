"""`quorum-loss`: a majority of the managers lose power at once, then boot again.

The swarm cannot elect a leader until enough of them are back: the run measures whether it regains one by
itself (without `--force-new-cluster`) and when. The target is one of the lost managers; the others are
drawn with the run's seed.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from pulltheplug.cluster.seam import Cluster, Evidence
from pulltheplug.errors import SpecError
from pulltheplug.faults.base import Fault, FaultContext
from pulltheplug.spec import FaultSpec


def lost_managers(target: str, managers: list[str], seed: int | None) -> list[str]:
    """The target and as many other managers (seeded) as make a majority of them."""
    if target not in managers:
        raise SpecError(f"quorum-loss: the target {target} is not a manager: target a manager (leader, follower, "
                        "random-manager) or name one")
    if len(managers) < 2:
        raise SpecError("quorum-loss: the swarm has one manager: its loss is a power-loss (use that)")
    others = sorted(m for m in managers if m != target)
    return [target, *sorted(random.Random(seed).sample(others, len(managers) // 2))]


class QuorumLoss(Fault):
    kind = "quorum-loss"

    def __init__(self, cluster: Cluster, node: str, duration: float, spec: FaultSpec | None = None,
                 context: FaultContext | None = None) -> None:
        super().__init__(cluster, node, duration, spec, context)
        managers = [n.name for n in self.context.nodes if n.role == "manager"]
        self.lost = lost_managers(node, managers, self.context.seed)
        self.managers = len(managers)

    @property
    def nodes(self) -> list[str]:
        return self.lost

    def describe(self) -> Evidence:
        return {"lost": self.lost, "managers": self.managers}

    def inject(self) -> Evidence:
        return self._each(self.cluster.power_off)

    def revert(self) -> Evidence:
        return self._each(self.cluster.boot)

    def _each(self, action: Callable[[str], Evidence]) -> Evidence:
        """All at once, as one power strip."""
        with ThreadPoolExecutor(max_workers=len(self.lost)) as pool:
            done = list(pool.map(lambda n: self._act(action, n), self.lost))
        return dict(zip(self.lost, done, strict=True))
