"""The new faults planned from the spec, without a cluster: partition sides, rules, loss, quorum majorities,
and the bad input that must stop a run before anything is injected."""

from __future__ import annotations

from typing import Any

import pytest

from pulltheplug.cluster.seam import ClusterNode
from pulltheplug.cluster.traffic import TrafficRules, partition_groups, partition_plan, ruleset
from pulltheplug.errors import SpecError
from pulltheplug.faults import make_fault
from pulltheplug.faults.base import FaultContext
from pulltheplug.faults.quorum_loss import lost_managers
from pulltheplug.spec import parse_spec
from tests.faults.test_faults import Recorder

NODES = [ClusterNode("node1", "10.0.0.2", "manager"), ClusterNode("node2", "10.0.0.3", "manager"),
         ClusterNode("node3", "10.0.0.4", "manager"), ClusterNode("node4", "10.0.0.5", "worker"),
         ClusterNode("node5", "10.0.0.6", "worker")]
FIVE_MANAGERS = [ClusterNode(f"m{i}", f"10.0.1.{i}", "manager") for i in range(1, 6)]


def test_isolate_cuts_the_target_from_every_other_node_and_both_sides_drop() -> None:
    groups = partition_groups("isolate", "node4", NODES)
    assert groups == [["node4"], ["node1", "node2", "node3", "node5"]]
    plan = partition_plan(groups, NODES)
    assert plan.rules["node4"].drop_from == ("10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.6")
    assert plan.rules["node4"].drop_to == plan.rules["node4"].drop_from
    assert plan.rules["node1"] == TrafficRules(drop_from=("10.0.0.5",), drop_to=("10.0.0.5",))


def test_one_way_only_the_target_drops_and_only_what_comes_in() -> None:
    plan = partition_plan(partition_groups("one-way", "node2", NODES), NODES, one_way=True)
    assert list(plan.rules) == ["node2"]
    assert plan.rules["node2"].drop_to == () and len(plan.rules["node2"].drop_from) == 4


@pytest.mark.parametrize(("nodes", "minority"), [(NODES, 1), (FIVE_MANAGERS, 2), (NODES[:2], 1)])
def test_managers_split_leaves_the_target_in_a_minority(nodes: list[ClusterNode], minority: int) -> None:
    target = nodes[0].name
    managers = [n.name for n in nodes if n.role == "manager"]
    small, big = partition_groups("managers-split", target, nodes, seed=7)
    assert target in small and len(small) == minority and sorted(small + big) == sorted(managers)
    assert len(big) >= len(small)
    assert partition_groups("managers-split", target, nodes, seed=7) == [small, big]  # seeded


@pytest.mark.parametrize(("shape", "target", "groups", "message"), [
    ("managers-split", "node1", [], "1 manager"),
    ("managers-split", "node4", [], "not a manager"),
    ("groups", "node1", [["node1"], ["node9"]], "node9 not in the cluster"),
    ("groups", "node1", [["node1", "node2"], ["node2"]], "node2 in more than one group"),
    ("groups", "node1", [["node1", "node2"]], "two or more"),
])
def test_a_partition_the_cluster_cannot_form_is_refused(shape: str, target: str, groups: list[list[str]],
                                                         message: str) -> None:
    nodes = [NODES[0], NODES[3]] if message == "1 manager" else NODES
    with pytest.raises(SpecError, match=message):
        partition_groups(shape, target, nodes, groups)


def test_the_ruleset_is_one_table_of_our_own_made_anew() -> None:
    text = ruleset(TrafficRules(drop_from=("10.0.0.3", "fd00::3"), drop_to=("10.0.0.3",), loss_percent=12.5))
    lines = text.splitlines()
    assert lines[:3] == ["table inet pulltheplug {}", "delete table inet pulltheplug", "table inet pulltheplug {"]
    assert 'iifname "eth0" numgen random mod 100 < 12 counter drop' in text
    assert 'oifname "eth0" numgen random mod 100 < 12 counter drop' in text
    assert "ip saddr 10.0.0.3 counter drop" in text and "ip6 saddr fd00::3 counter drop" in text
    assert "ip daddr 10.0.0.3 counter drop" in text and "fd00::3 counter drop" not in text.split("egress")[1]
    assert "hook prerouting priority raw" in text and "hook postrouting" in text


def test_quorum_loss_takes_a_majority_of_the_managers_with_the_target() -> None:
    assert lost_managers("node2", ["node1", "node2", "node3"], 3)[0] == "node2"
    assert len(lost_managers("node2", ["node1", "node2", "node3"], 3)) == 2
    five = [n.name for n in FIVE_MANAGERS]
    lost = lost_managers("m3", five, 11)
    assert len(lost) == 3 and lost[0] == "m3" and lost == lost_managers("m3", five, 11)
    with pytest.raises(SpecError, match="not a manager"):
        lost_managers("node4", ["node1", "node2", "node3"], 1)
    with pytest.raises(SpecError, match="one manager"):
        lost_managers("node1", ["node1"], 1)


@pytest.mark.parametrize(("text", "message"), [
    ("fault: {kind: loss, loss: 150}", "less than or equal to 100"),
    ("fault: {kind: loss, loss: 0}", "greater than 0"),
    ("fault: {kind: flap, flap: {period: 1s, down: 2s}}", "shorter than its period"),
    ("fault: {kind: partition, partition: {shape: groups}}", "give groups"),
    ("fault: {kind: partition, partition: {shape: ring}}", "isolate"),
])
def test_bad_fault_specs_are_refused_by_the_spec(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_spec(text + "\n")


def test_each_new_fault_calls_its_cluster_actions() -> None:
    ctx = FaultContext(NODES, "node1", "web", 5, ["node1", "node2"])
    cluster: Any = Recorder()
    spec = parse_spec("fault: {kind: partition, target: node4, duration: 5s}\n").fault
    part = make_fault("partition", cluster, "node4", 5.0, spec, ctx)
    assert part.nodes == ["node4", "node1", "node2", "node3", "node5"]
    part.inject()
    part.revert()
    assert sorted(c[1][0] for c in cluster.calls if c[0] == "filter_traffic") == sorted(part.nodes)
    assert sorted(c[1][0] for c in cluster.calls if c[0] == "clear_traffic") == sorted(part.nodes)

    cluster = Recorder()
    spec = parse_spec("fault: {kind: loss, loss: 30, target: node2}\n").fault
    make_fault("loss", cluster, "node2", 5.0, spec, ctx).inject()
    assert cluster.calls == [("filter_traffic", ("node2", TrafficRules(loss_percent=30.0)))]

    cluster = Recorder()
    spec = parse_spec("fault: {kind: flap, flap: {period: 2s, down: 500ms}}\n").fault
    make_fault("flap", cluster, "node2", 9.0, spec, ctx).inject()
    assert cluster.calls == [("flap", ("node2", 2.0, 0.5, 9.0))]

    cluster = Recorder()
    quorum = make_fault("quorum-loss", cluster, "node1", 5.0, None, ctx)
    assert len(quorum.nodes) == 2 and quorum.arm() and len([c for c in cluster.calls if c[0] == "arm_revert"]) == 2
    with pytest.raises(SpecError, match="runs no task of web"):
        make_fault("task-kill", Recorder(), "node4", 5.0, None, ctx)


def test_a_partition_needs_ip_addresses_to_write_its_rules() -> None:
    nodes = [ClusterNode("pi1", "pi1.local", "manager"), ClusterNode("pi2", "10.0.0.3", "worker")]
    with pytest.raises(SpecError, match=r"pi1's address 'pi1\.local' is not an IP address"):
        partition_plan(partition_groups("isolate", "pi2", nodes), nodes)
