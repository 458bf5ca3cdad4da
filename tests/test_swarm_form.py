"""The pure parts of forming and leaving a swarm: the plan, the roles, the advertised address, the scrub."""

from __future__ import annotations

import json

import pytest

from pulltheplug.errors import ClusterError
from pulltheplug.ssh.form import advertise_address, assign_roles
from pulltheplug.ssh.inventory import Host
from pulltheplug.swarm.form import Member, SwarmState, converged, plan_form, plan_leave, scrub

M = [Member("pi1", "10.0.0.1", "manager"), Member("pi2", "10.0.0.2", "manager"),
     Member("pi3", "10.0.0.3", "manager"), Member("pi4", "10.0.0.4", "worker")]
OFF = SwarmState("inactive")


def active(node_id: str, manager: bool) -> SwarmState:
    return SwarmState("active", node_id, manager, "c1" if manager else "")


def test_fresh_hosts_init_on_the_first_manager_and_join() -> None:
    plan = plan_form(M, dict.fromkeys(["pi1", "pi2", "pi3", "pi4"], OFF), frozenset())
    assert plan.founder == "pi1"
    assert plan.steps == {"pi1": "init", "pi2": "join", "pi3": "join", "pi4": "join"}


def test_an_existing_swarm_grows_from_the_manager_that_runs_it() -> None:
    states = {"pi1": OFF, "pi2": active("b", True), "pi3": OFF, "pi4": active("d", False)}
    plan = plan_form(M, states, frozenset({"b", "d"}))
    assert plan.founder == "pi2"
    assert plan.steps == {"pi1": "join", "pi2": "keep", "pi3": "join", "pi4": "keep"}


def test_roles_that_differ_are_promoted_or_demoted() -> None:
    states = {"pi1": active("a", True), "pi2": active("b", False), "pi3": active("c", True),
              "pi4": active("d", True)}
    plan = plan_form(M, states, frozenset("abcd"))
    assert plan.steps == {"pi1": "keep", "pi2": "promote", "pi3": "keep", "pi4": "demote"}
    assert plan.changes()


def test_a_host_in_another_swarm_is_refused_naming_it_unless_forced() -> None:
    states = {"pi1": active("a", True), "pi2": active("b", True), "pi3": active("zz", True), "pi4": OFF}
    with pytest.raises(ClusterError, match=r"^host pi3 is already in another swarm .*--force"):
        plan_form(M, states, frozenset({"a", "b"}))
    plan = plan_form(M, states, frozenset({"a", "b"}), force=True)
    assert plan.steps == {"pi1": "keep", "pi2": "keep", "pi3": "leave-join", "pi4": "join"}


def test_a_founder_that_is_a_worker_elsewhere_is_refused() -> None:
    states = {"pi1": active("x", False), "pi2": OFF, "pi3": OFF, "pi4": OFF}
    with pytest.raises(ClusterError, match="host pi1 is already in another swarm"):
        plan_form(M, states, frozenset())


def test_no_manager_is_refused() -> None:
    with pytest.raises(ClusterError, match="no manager"):
        plan_form([Member("pi1", "10.0.0.1", "worker")], {"pi1": OFF}, frozenset())


def test_leave_order_is_workers_then_managers_then_the_leader() -> None:
    states = {"pi1": active("a", True), "pi2": active("b", True), "pi3": active("c", True),
              "pi4": active("d", False)}
    assert plan_leave(M, states, leader="pi2") == ["pi4", "pi1", "pi3", "pi2"]
    states["pi3"] = OFF
    assert plan_leave(M, states, leader=None) == ["pi4", "pi1", "pi2"]


def test_roles_fill_up_to_three_managers_keeping_declared_ones() -> None:
    hosts = [Host(name=f"pi{i}", address=f"10.0.0.{i}") for i in range(1, 6)]
    assert list(assign_roles(hosts).values()) == ["manager"] * 3 + ["worker"] * 2
    assert list(assign_roles(hosts[:2]).values()) == ["manager", "worker"]
    declared = [Host(name="pi1", address="a", role="worker"), *hosts[1:4]]
    assert assign_roles(declared, managers=1) == {"pi1": "worker", "pi2": "manager", "pi3": "worker",
                                                  "pi4": "worker"}


IP_JSON = json.dumps([
    {"ifname": "lo", "addr_info": [{"local": "127.0.0.1"}]},
    {"ifname": "eth0", "addr_info": [{"local": "192.168.1.21"}, {"local": "fe80::1"}]},
    {"ifname": "wlan0", "addr_info": [{"local": "fe80::2"}, {"local": "192.168.2.21"}]},
])


def test_the_advertised_address_is_the_one_ssh_came_in_on_or_the_declared_interface() -> None:
    host = Host(name="pi1", address="pi1.local")
    assert advertise_address(host, "192.168.1.5 50000 192.168.1.21 22", IP_JSON) == "192.168.1.21"
    assert advertise_address(host.model_copy(update={"interface": "wlan0"}), "", IP_JSON) == "192.168.2.21"
    with pytest.raises(ClusterError, match="host pi1: cannot tell which address"):
        advertise_address(host, "", IP_JSON)
    with pytest.raises(ClusterError, match="interface eth1 has no address"):
        advertise_address(host.model_copy(update={"interface": "eth1"}), "", IP_JSON)


def test_converged_wants_every_member_ready_in_its_role_and_ignores_stale_rows() -> None:
    def row(name: str, role: str, state: str = "ready", manager: str = "") -> dict[str, str]:
        return {"name": name, "role": role, "state": state, "manager": manager}

    rows = [row("pi1", "manager", manager="leader"), row("pi2", "manager", manager="reachable"),
            row("pi3", "manager", manager="reachable"), row("pi4", "worker"), row("pi4", "worker", "down")]
    assert converged(rows, M)
    assert not converged([*rows[:2], row("pi3", "manager", manager="unreachable"), rows[3]], M)
    assert not converged(rows[:3], M)


def test_scrub_hides_tokens() -> None:
    assert scrub("join SWMTKN-1-abc failed", ["SWMTKN-1-abc", ""]) == "join <token> failed"
