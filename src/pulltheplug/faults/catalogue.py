"""The fault catalogue: every fault by its kind. The one module that knows them all; each fault knows only
faults/base.py, so adding a fault adds its module and one line here."""

from __future__ import annotations

from pulltheplug.cluster.seam import Cluster
from pulltheplug.errors import FaultError
from pulltheplug.faults.base import Fault, FaultContext
from pulltheplug.faults.engine_crash import EngineCrash
from pulltheplug.faults.engine_upgrade import EngineUpgrade
from pulltheplug.faults.freeze import Freeze
from pulltheplug.faults.nic_down import NicDown
from pulltheplug.faults.node_power import PowerLoss, Reboot
from pulltheplug.faults.quorum_loss import QuorumLoss
from pulltheplug.faults.task_kill import TaskKill
from pulltheplug.faults.traffic import Flap, Loss, Partition
from pulltheplug.spec import FaultSpec

KINDS: dict[str, type[Fault]] = {k.kind: k for k in (NicDown, Reboot, PowerLoss, Freeze, Partition, Loss, Flap,
                                                     EngineCrash, TaskKill, QuorumLoss, EngineUpgrade)}


def make_fault(kind: str, cluster: Cluster, node: str, duration: float, spec: FaultSpec | None = None,
               context: FaultContext | None = None) -> Fault:
    """The fault, planned: a shape the cluster cannot form is a SpecError here, before anything is injected."""
    if kind not in KINDS:
        raise FaultError(f"unknown fault {kind!r}: use one of {', '.join(KINDS)}")
    return KINDS[kind](cluster, node, duration, spec, context)
