"""Faults talk only to the Cluster seam: which action each calls, the dead-man it asks for, its errors."""

from __future__ import annotations

from typing import Any

import pytest

from pulltheplug.cluster.seam import DEADMAN_MARGIN, Evidence
from pulltheplug.errors import FaultError, SpecError
from pulltheplug.faults import make_fault
from pulltheplug.spec import parse_spec


class Recorder:
    """A cluster that records the node actions asked of it; `failing` names one that did not take effect."""

    name = "fake"
    kind = "fake"

    def __init__(self, failing: str | None = None) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self.failing = failing

    def __getattr__(self, action: str) -> Any:
        def act(*args: Any) -> Evidence:
            self.calls.append((action, args))
            if action == self.failing:
                raise FaultError("eth0 is still up (evidence: {'eth0_up': True})")
            return {"action": action}
        return act


@pytest.mark.parametrize(("kind", "inject", "revert"), [
    ("nic-down", ("nic_down", ("node2", 20.0)), ("nic_up", ("node2",))),  # over SSH the dead-man is the revert
    ("freeze", ("freeze", ("node2", 20.0 + DEADMAN_MARGIN)), ("thaw", ("node2",))),
    ("reboot", ("shut_down", ("node2",)), ("boot", ("node2",))),
    ("power-loss", ("power_off", ("node2",)), ("boot", ("node2",))),
])
def test_each_fault_is_one_action_of_the_cluster_and_its_revert(kind: str, inject: tuple[str, tuple[Any, ...]],
                                                               revert: tuple[str, tuple[Any, ...]]) -> None:
    cluster: Any = Recorder()
    fault = make_fault(kind, cluster, "node2", 20.0)
    assert fault.inject() == {"action": inject[0]}
    assert fault.revert() == {"action": revert[0]}
    assert cluster.calls == [inject, revert]


def test_an_action_that_did_not_take_effect_names_the_fault_and_node() -> None:
    cluster: Any = Recorder(failing="nic_down")
    with pytest.raises(FaultError, match=r"^nic-down on node3: eth0 is still up"):
        make_fault("nic-down", cluster, "node3", 5.0).inject()


def test_an_ssh_cluster_needs_its_inventory() -> None:
    with pytest.raises(SpecError, match="hosts"):
        parse_spec("cluster: {kind: ssh}\n")
    spec = parse_spec("cluster: {kind: ssh, hosts: pis.yaml}\n")
    assert spec.cluster.kind == "ssh" and str(spec.cluster.hosts) == "pis.yaml"
    assert parse_spec("cluster: {lab: ptpt}\n").cluster.kind == "lab"  # the default, as older specs say
