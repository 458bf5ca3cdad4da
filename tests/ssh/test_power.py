"""The `command` power driver runs on the controller; the other kinds say they are not implemented."""

from __future__ import annotations

import pytest

from pulltheplug.ssh.inventory import CommandPower, Host, HttpPower
from pulltheplug.ssh.power import PowerDriverError, power_command, power_status, run_power


def host(**power: str | None) -> Host:
    return Host(name="pi1", address="192.168.1.21", power=CommandPower(kind="command", **power))  # type: ignore[arg-type]


def test_commands_get_the_host_name_and_address() -> None:
    pi = host(on="pdu on {name} {address}", off="pdu off {name}")
    assert power_command(pi, "on") == "pdu on pi1 192.168.1.21"
    assert power_command(pi, "status") is None


def test_status_answers_or_says_why_not() -> None:
    assert power_status(host(on="x", off="y", status="true")) == (True, "command: status answered")
    ok, detail = power_status(host(on="x", off="y", status="echo no such outlet >&2; exit 3"))
    assert not ok and detail == "power status failed: no such outlet"
    assert power_status(host(on="x", off="y"))[0]


def test_a_failing_power_command_is_one_line_naming_the_host() -> None:
    with pytest.raises(PowerDriverError, match=r"^pi1: power off failed: exit 1$"):
        run_power(host(on="true", off="false"), "off")


def test_unimplemented_and_missing_drivers_are_refused() -> None:
    plug = Host(name="pi1", address="a", power=HttpPower(kind="tasmota", address="10.0.0.9"))
    with pytest.raises(PowerDriverError, match="tasmota is not implemented yet"):
        power_command(plug, "off")
    assert power_status(plug) == (False, "power driver tasmota is not implemented yet: use kind command")
    with pytest.raises(PowerDriverError, match="no power driver"):
        power_command(Host(name="pi1", address="a"), "off")
