"""Traffic faults: `partition` (nodes cut from each other, clients still reach them), `loss` (random packet
loss on the target's interface) and `flap` (its link down and up again and again).

Partitions are what Jepsen's nemeses start with and what a Swarm operator fears most: a leader cut off
from the other managers while clients still reach it, managers split into a minority and a majority.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from pulltheplug.cluster.seam import Cluster, Evidence
from pulltheplug.cluster.traffic import TrafficRules, check_loss, partition_groups, partition_plan
from pulltheplug.faults.base import Fault, FaultContext
from pulltheplug.spec import FaultSpec


class Partition(Fault):
    kind = "partition"

    def __init__(self, cluster: Cluster, node: str, duration: float, spec: FaultSpec | None = None,
                 context: FaultContext | None = None) -> None:
        super().__init__(cluster, node, duration, spec, context)
        p, ctx = self.spec.partition, self.context
        groups = partition_groups(p.shape, self.node, ctx.nodes, p.groups, ctx.seed)
        if p.shape == "groups" and self.node not in groups[0]:  # the target's side first
            groups.sort(key=lambda g: self.node not in g)
        self.plan = partition_plan(groups, ctx.nodes, one_way=p.shape == "one-way")

    @property
    def nodes(self) -> list[str]:
        return [self.node, *sorted(n for n in self.plan.rules if n != self.node)]

    def describe(self) -> Evidence:
        return {"shape": self.spec.partition.shape, "groups": self.plan.groups}

    def inject(self) -> Evidence:
        return self._each(lambda n: self.cluster.filter_traffic(n, self.plan.rules[n]))

    def revert(self) -> Evidence:
        return self._each(self.cluster.clear_traffic)

    def _each(self, action: Callable[[str], Evidence]) -> Evidence:
        """On every side at once: the cut starts (and heals) in the same instant for all of them."""
        names = sorted(self.plan.rules)
        with ThreadPoolExecutor(max_workers=len(names)) as pool:
            done = list(pool.map(lambda n: self._act(action, n), names))
        return dict(zip(names, done, strict=True))


class Loss(Fault):
    kind = "loss"

    def __init__(self, cluster: Cluster, node: str, duration: float, spec: FaultSpec | None = None,
                 context: FaultContext | None = None) -> None:
        super().__init__(cluster, node, duration, spec, context)
        self.percent = check_loss(self.spec.loss)

    def describe(self) -> Evidence:
        return {"percent": self.percent}

    def inject(self) -> Evidence:
        return self._act(lambda n: self.cluster.filter_traffic(n, TrafficRules(loss_percent=self.percent)))

    def revert(self) -> Evidence:
        return self._act(self.cluster.clear_traffic)


class Flap(Fault):
    kind = "flap"

    def describe(self) -> Evidence:
        return {"period": self.spec.flap.period, "down": self.spec.flap.down}

    def inject(self) -> Evidence:
        f = self.spec.flap
        return self._act(lambda n: self.cluster.flap(n, f.period, f.down, self.duration))

    def revert(self) -> Evidence:
        return self._act(self.cluster.unflap)

