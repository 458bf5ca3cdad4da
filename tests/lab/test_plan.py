import ipaddress

import pytest

from pulltheplug.errors import LabError
from pulltheplug.lab.plan import pick_subnet, plan_lab


def net(s: str) -> ipaddress.IPv4Network:
    return ipaddress.ip_network(s)


def test_pick_subnet_skips_every_overlap() -> None:
    used = [net("10.213.0.0/24"), net("10.213.1.128/25"), net("10.0.0.0/8").subnets(new_prefix=16).__next__()]
    assert pick_subnet(used) == net("10.213.2.0/24")


def test_pick_subnet_fails_when_pool_is_covered() -> None:
    with pytest.raises(LabError, match="no free /24"):
        pick_subnet([net("10.0.0.0/8")])


def test_plan_puts_managers_first_and_keeps_host_address_apart() -> None:
    plan = plan_lab("demo", nodes=5, managers=3, subnet=net("10.213.7.0/24"))
    assert [n.name for n in plan.nodes] == ["node1", "node2", "node3", "node4", "node5"]
    assert [n.role for n in plan.nodes] == ["manager"] * 3 + ["worker"] * 2
    assert plan.host_address == "10.213.7.1"
    addresses = [n.address for n in plan.nodes]
    assert len(set(addresses)) == 5 and plan.host_address not in addresses
    assert all(ipaddress.ip_address(a) in net(plan.subnet) for a in addresses)
    assert len({n.netns for n in plan.nodes} | {plan.hub_netns}) == 6
    # interface names must fit the kernel's 15 characters
    assert all(len(x) <= 15 for x in [plan.host_link, plan.bridge, *[n.hub_link for n in plan.nodes]])
    assert plan.node("node4").cgroup == "pulltheplug/demo/node4"


@pytest.mark.parametrize(
    ("nodes", "managers", "message"),
    [(0, 1, "--nodes 0"), (3, 4, "--managers 4"), (3, 0, "--managers 0"), (51, 1, "--nodes 51")],
)
def test_bad_shapes_say_what_to_do(nodes: int, managers: int, message: str) -> None:
    with pytest.raises(LabError, match=message):
        plan_lab("demo", nodes=nodes, managers=managers, subnet=net("10.213.7.0/24"))


@pytest.mark.parametrize("name", ["", "Lab", "1lab", "lab-one", "muchtoolong"])
def test_bad_names_are_refused(name: str) -> None:
    with pytest.raises(LabError, match="not valid"):
        plan_lab(name, nodes=1, managers=1, subnet=net("10.213.7.0/24"))


def test_unknown_node_names_the_known_ones() -> None:
    plan = plan_lab("demo", nodes=2, managers=1, subnet=net("10.213.7.0/24"))
    with pytest.raises(LabError, match="node1, node2"):
        plan.node("node9")
