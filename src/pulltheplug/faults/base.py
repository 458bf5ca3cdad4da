"""The fault interface (Jepsen's nemesis: invoke, then teardown) and the registry of kinds."""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any, ClassVar

from pulltheplug.cluster import Cluster
from pulltheplug.errors import FaultError


class Fault(ABC):
    """One fault on one node. `inject` and `revert` return evidence (what was checked afterwards)."""

    kind: ClassVar[str]

    def __init__(self, cluster: Cluster, node: str) -> None:
        self.cluster = cluster
        self.node = node

    @abstractmethod
    def inject(self) -> dict[str, Any]: ...

    @abstractmethod
    def revert(self) -> dict[str, Any]: ...

    def _require(self, ok: bool, evidence: dict[str, Any], what: str) -> dict[str, Any]:
        if not ok:
            raise FaultError(f"{self.kind} on {self.node}: {what} (evidence: {evidence})")
        return evidence


def make_fault(kind: str, cluster: Cluster, node: str) -> Fault:
    from pulltheplug.faults.freeze import Freeze
    from pulltheplug.faults.nic_down import NicDown
    from pulltheplug.faults.node_power import PowerLoss, Reboot

    kinds: dict[str, type[Fault]] = {k.kind: k for k in (NicDown, Reboot, PowerLoss, Freeze)}
    if kind not in kinds:
        raise FaultError(f"unknown fault {kind!r}: use one of {', '.join(kinds)}")
    return kinds[kind](cluster, node)
