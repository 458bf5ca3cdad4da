"""`cluster check`'s judgement: a pure function of what the hosts said and which faults are planned."""

from __future__ import annotations

import dataclasses
import json

import pytest

from pulltheplug.errors import ClusterError
from pulltheplug.ssh.check import (
    HostFacts,
    evaluate,
    parse_faults,
    parse_interfaces,
    parse_probe,
    timer_of,
)
from pulltheplug.ssh.inventory import CommandPower, Host

PI = Host(name="pi1", address="192.168.1.21")
OURS = "controller-boot-id"
IP_JSON = json.dumps([
    {"ifname": "lo", "addr_info": [{"local": "127.0.0.1"}]},
    {"ifname": "eth0", "addr_info": [{"local": "192.168.1.21"}, {"local": "fe80::1"}]},
    {"ifname": "wlan0", "addr_info": []},
])
GOOD = HostFacts(
    host="pi1", reachable=True, uid=0, arch="aarch64", boot_id="pi-boot-id", clock_offset=0.004,
    setsid=True, systemd_run=True, systemd_pid1=True, sysrq=176, sysrq_trigger=True, freezers=3,
    interfaces=parse_interfaces(IP_JSON), docker_version="24.0.5", swarm_state="active", swarm_role="manager",
    swarm_address="192.168.1.21", nft=True,
)


def failing(report: object) -> list[str]:
    return [c.name for c in report.checks if c.required and not c.ok]  # type: ignore[attr-defined]


def test_a_healthy_pi_passes_the_seeds_three_faults_with_a_power_driver() -> None:
    host = PI.model_copy(update={"power": CommandPower(kind="command", on="on", off="off")})
    facts = dataclasses.replace(GOOD, power_ok=True, power_detail="command: status answered")
    report = evaluate(host, facts, OURS, ("nic-down", "reboot", "power-loss"))
    assert report.passes and report.interface == "eth0" and failing(report) == []
    assert timer_of(facts) == "systemd-run"


def test_the_same_boot_id_as_the_controller_fails_machine_faults_only() -> None:
    facts = dataclasses.replace(GOOD, boot_id=OURS)
    assert failing(evaluate(PI, facts, OURS, ("reboot",))) == ["not this machine"]
    assert failing(evaluate(PI, facts, OURS, ("power-loss",))) == ["not this machine"]
    assert evaluate(PI, facts, OURS, ("nic-down", "freeze")).passes



def test_a_power_driver_cuts_the_supply_not_the_kernel_so_the_same_boot_id_is_said_not_refused() -> None:
    """A lab node shares this machine's kernel; its power driver kills only that node (the lab's own e2e)."""
    host = PI.model_copy(update={"power": CommandPower(kind="command", on="on", off="off")})
    facts = dataclasses.replace(GOOD, boot_id=OURS, power_ok=True, power_detail="command: status answered")
    report = evaluate(host, facts, OURS, ("power-loss",))
    guard = next(c for c in report.checks if c.name == "not this machine")
    assert not guard.ok and not guard.required and report.passes
    assert failing(evaluate(host, facts, OURS, ("reboot",))) == ["not this machine"]  # reboot runs on the host


def test_unreachable_host_is_one_failed_check_with_the_reason() -> None:
    facts = HostFacts(host="pi1", reachable=False, error="unknown host key for 192.168.1.21: run `...trust`")
    report = evaluate(PI, facts, OURS, ("nic-down",))
    assert not report.passes and [(c.name, c.detail) for c in report.checks] == [("reachable", facts.error)]


@pytest.mark.parametrize(
    ("change", "host_update", "faults", "failed"),
    [
        ({"uid": 1000}, {}, ("nic-down",), ["root"]),
        ({"uid": None}, {"sudo": True}, ("freeze",), ["root"]),
        ({"docker_version": "", "docker_error": "connection refused"}, {}, ("nic-down",), ["docker"]),
        ({"swarm_state": "inactive", "swarm_role": None}, {}, ("nic-down",), ["swarm"]),
        ({}, {"role": "worker"}, ("nic-down",), ["swarm"]),
        ({}, {"interface": "eth1"}, ("nic-down",), ["interface"]),
        ({}, {"interface": "wlan0"}, ("nic-down",), ["interface"]),
        ({"swarm_address": "10.9.9.9"}, {}, ("nic-down",), ["interface"]),
        ({"setsid": False, "systemd_pid1": False}, {}, ("nic-down",), ["dead-man"]),
        ({"freezers": 0}, {}, ("freeze",), ["freezer"]),
        ({"systemd_pid1": False}, {}, ("reboot",), ["reboot"]),
        ({"sysrq_trigger": False}, {}, ("power-loss",), ["sysrq", "power"]),
        ({"nft": False}, {}, ("partition",), ["nftables"]),
        ({"nft": False}, {}, ("loss",), ["nftables"]),
        ({"uid": 1000}, {}, ("loss",), ["root"]),
        ({}, {"interface": "wlan0"}, ("flap",), ["interface"]),
        ({"setsid": False, "systemd_pid1": False}, {}, ("partition",), ["dead-man"]),
        ({"systemd_pid1": False}, {}, ("engine-crash",), ["engine units"]),
        ({"sysrq_trigger": False}, {}, ("quorum-loss",), ["sysrq", "power"]),  # each lost manager: a power-loss
        ({"uid": 1000}, {}, ("engine-crash",), ["root"]),
    ],
)
def test_each_missing_piece_fails_the_fault_that_needs_it(change: dict[str, object], host_update: dict[str, object],
                                                         faults: tuple[str, ...], failed: list[str]) -> None:
    report = evaluate(PI.model_copy(update=host_update), dataclasses.replace(GOOD, **change), OURS, faults)  # type: ignore[arg-type]
    assert failing(report) == failed
    assert all(c.advice for c in report.checks if not c.ok)


def test_an_interface_not_needed_by_the_plan_does_not_fail_the_host() -> None:
    report = evaluate(PI.model_copy(update={"interface": "eth1"}), GOOD, OURS, ("freeze",))
    assert report.passes and not next(c for c in report.checks if c.name == "interface").ok


def test_overrides_stand_in_for_missing_freezer_and_reboot() -> None:
    host = PI.model_copy(update={"faults": {"freeze": "f", "thaw": "t", "reboot": "shutdown -r now",
                                            "engine-kill": "rc-service docker zap",
                                            "engine-start": "rc-service docker start"}})
    facts = dataclasses.replace(GOOD, freezers=0, systemd_pid1=False)
    assert evaluate(host, facts, OURS, ("freeze", "reboot", "engine-crash")).passes


def test_a_power_driver_that_does_not_answer_fails_power_loss() -> None:
    host = PI.model_copy(update={"power": CommandPower(kind="command", on="on", off="off", status="false")})
    facts = dataclasses.replace(GOOD, power_ok=False, power_detail="power status failed: exit 1")
    assert failing(evaluate(host, facts, OURS, ("power-loss",))) == ["power"]
    assert evaluate(host, facts, OURS, ("nic-down",)).passes  # only a plan with power-loss needs it


def test_a_clock_far_off_warns_but_does_not_fail() -> None:
    report = evaluate(PI, dataclasses.replace(GOOD, clock_offset=2.0), OURS, ("nic-down",))
    clock = next(c for c in report.checks if c.name == "clock")
    assert report.passes and not clock.ok and not clock.required and "+2000 ms" in clock.detail


def test_json_has_facts_and_checks() -> None:
    data = evaluate(PI, GOOD, OURS, ("nic-down",)).to_json()
    assert data["passes"] and data["facts"]["arch"] == "aarch64" and data["checks"][0]["name"] == "reachable"
    json.dumps(data)


def test_probe_and_ip_parsing() -> None:
    assert parse_probe("arch=armv7l\nsetsid=/usr/bin/setsid\nsystemd_run=\nip=[{\"a\": \"b=c\"}]\n") == {
        "arch": "armv7l", "setsid": "/usr/bin/setsid", "systemd_run": "", "ip": '[{"a": "b=c"}]'}
    assert parse_interfaces(IP_JSON)["eth0"] == ["192.168.1.21", "fe80::1"]
    assert parse_interfaces("not json") == {}


def test_planned_faults_are_checked() -> None:
    assert parse_faults("nic-down, freeze") == ("nic-down", "freeze")
    with pytest.raises(ClusterError, match="--faults 'unplug'"):
        parse_faults("unplug")
