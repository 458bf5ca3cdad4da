"""Engines by Debian release, without a lab: which node runs which, the order of a rolling upgrade, and a
campaign that compares engines (the lab rebuilt once per engine)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pulltheplug.cluster.seam import ClusterNode
from pulltheplug.errors import SpecError
from pulltheplug.faults import make_fault
from pulltheplug.faults.base import FaultContext
from pulltheplug.lab import engines
from pulltheplug.spec import CampaignSpec, parse_spec
from pulltheplug.spec.campaign_plan import plan_runs, run_spec

NODES = ["node1", "node2", "node3", "node4", "node5"]


@pytest.mark.parametrize(("text", "expected"), [
    ("bookworm", ["bookworm"] * 5),
    ("trixie", ["trixie"] * 5),
    ("node4=trixie,node5=trixie", ["bookworm", "bookworm", "bookworm", "trixie", "trixie"]),
    ("trixie, node1=bookworm", ["bookworm", "trixie", "trixie", "trixie", "trixie"]),
])
def test_engines_per_node(text: str, expected: list[str]) -> None:
    assert list(engines.parse_engines(text, NODES).values()) == expected


@pytest.mark.parametrize(("text", "message"), [
    ("buster", "engine 'buster': use bookworm or trixie"),
    ("node9=trixie", "no node 'node9'"),
    ("node2=sid", "engine 'sid'"),
])
def test_a_wrong_engine_is_one_line(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        engines.parse_engines(text, NODES)


def test_this_machines_engine_needs_nothing_and_another_release_has_its_own_folder(tmp_path: Path) -> None:
    assert engines.bin_dir("bookworm", tmp_path) is None and engines.dockerd_extra_args("bookworm", tmp_path) == []
    found = engines.bin_dir("trixie", tmp_path)
    assert found is not None and found.parent.name.startswith("trixie-") and found.name == "bin"
    assert engines.dockerd_extra_args("trixie", tmp_path) == ["--userland-proxy-path", str(found / "docker-proxy")]
    assert engines.ready("bookworm", tmp_path) and not engines.ready("trixie", tmp_path)


class Upgradable:
    """A lab as the upgrade sees it: nodes, their engines, and the actions asked of it."""

    name = "fake"

    def __init__(self, engines_of: dict[str, str]) -> None:
        self.engines_of = engines_of
        self.calls: list[tuple[str, str]] = []

    def nodes(self) -> list[ClusterNode]:
        roles = {"node1": "manager", "node2": "manager", "node3": "manager"}
        return [ClusterNode(n, f"10.0.0.{i}", roles.get(n, "worker")) for i, n in enumerate(self.engines_of, 2)]

    def describe(self) -> dict[str, object]:
        return {"nodes": [{"name": n, "engine": e} for n, e in self.engines_of.items()]}


def _upgrade(target: str, upgrade: str, engines_of: dict[str, str] | None = None) -> Any:
    spec = parse_spec(f"fault: {{kind: engine-upgrade, target: {target}, upgrade: {upgrade}}}\n")
    cluster: Any = Upgradable(engines_of or dict.fromkeys(NODES, "bookworm"))
    return make_fault("engine-upgrade", cluster, target, 0.0, spec.fault, FaultContext(leader="node2"))


def test_a_rolling_upgrade_takes_workers_then_followers_then_the_leader() -> None:
    fault = _upgrade("node4", "{to: trixie, rolling: true}")
    assert fault.nodes == ["node4", "node5", "node1", "node3", "node2"]


def test_a_target_already_on_the_release_is_refused_before_anything_stops() -> None:
    on = dict.fromkeys(NODES, "bookworm") | {"node4": "trixie"}
    with pytest.raises(SpecError, match="node4 already runs trixie's engine"):
        _ = _upgrade("node4", "{to: trixie}", on).nodes


def test_a_rolling_upgrade_skips_nodes_already_on_the_release_and_keeps_its_order_once_planned() -> None:
    on = {"node1": "bookworm", "node2": "bookworm", "node3": "trixie", "node4": "bookworm", "node5": "trixie"}
    fault = _upgrade("node4", "{to: trixie, rolling: true}", on)
    assert fault.nodes == ["node4", "node1", "node2"]
    fault.cluster.engines_of["node1"] = "trixie"  # upgraded on the way: the order does not change under it
    assert fault.nodes == ["node4", "node1", "node2"]


def test_an_upgrade_takes_the_target_alone_or_the_order_given() -> None:
    assert _upgrade("node5", "{to: trixie}").nodes == ["node5"]
    assert _upgrade("node5", "{to: trixie, order: [node1, node5, node2, node1]}").nodes == ["node5", "node1", "node2"]
    with pytest.raises(SpecError, match=r"upgrade\.order: no node 'node9'"):
        _ = _upgrade("node5", "{to: trixie, order: [node9]}").nodes


def test_a_campaign_comparing_engines_runs_each_scenario_on_each_engine_one_engine_after_the_other() -> None:
    spec = CampaignSpec.model_validate({"faults": ["nic-down", "reboot"], "targets": ["leader"], "repetitions": 2,
                                        "engines": ["bookworm", "trixie"]})
    plan = plan_runs(spec)
    assert [r.engine for r in plan] == ["bookworm"] * 4 + ["trixie"] * 4  # one rebuild per engine
    assert plan[0].scenario == "nic-down@leader on bookworm" and plan[4].scenario == "nic-down@leader on trixie"
    assert run_spec(spec, plan[5]).name == "006-reboot-leader-trixie-r1"
    one = CampaignSpec.model_validate({"faults": ["nic-down"], "targets": ["leader"], "repetitions": 1})
    assert [(r.engine, r.scenario) for r in plan_runs(one)] == [("", "nic-down@leader")]  # as before engines
