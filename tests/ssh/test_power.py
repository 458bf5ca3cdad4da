"""Power drivers: `command` and `ipmi` run on the controller; Tasmota and Shelly plugs switch back on by themselves."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest

from pulltheplug.ssh.inventory import CommandPower, Host, HttpPower, IpmiPower
from pulltheplug.ssh.power import (
    PowerDriverError,
    http_request,
    power_command,
    power_status,
    run_power,
    switches_back_on_by_itself,
)


def host(**power: str | None) -> Host:
    return Host(name="pi1", address="192.168.1.21", power=CommandPower(kind="command", **power))  # type: ignore[arg-type]


def plug(kind: str, address: str = "192.168.1.50", **fields: object) -> Host:
    return Host(name="pi1", address="192.168.1.21",
                power=HttpPower(kind=kind, address=address, **fields))  # type: ignore[arg-type]


def test_commands_get_the_host_name_and_address() -> None:
    pi = host(on="pdu on {name} {address}", off="pdu off {name}")
    assert power_command(pi, "on") == "pdu on pi1 192.168.1.21"
    assert power_command(pi, "status") is None
    assert not switches_back_on_by_itself(pi)


def test_status_answers_or_says_why_not() -> None:
    assert power_status(host(on="x", off="y", status="true")) == (True, "command: status answered")
    ok, detail = power_status(host(on="x", off="y", status="echo no such outlet >&2; exit 3"))
    assert not ok and detail == "power status failed: no such outlet"
    assert power_status(host(on="x", off="y")) == (True, "command: no status command, not checked")


def test_a_failing_power_command_is_one_line_naming_the_host() -> None:
    with pytest.raises(PowerDriverError, match=r"^pi1: power off failed: exit 1$"):
        run_power(host(on="true", off="false"), "off")


def test_a_missing_driver_is_refused() -> None:
    with pytest.raises(PowerDriverError, match="no power driver"):
        power_command(Host(name="pi1", address="a"), "off")


def test_ipmi_runs_ipmitool_chassis_power() -> None:
    bmc = Host(name="srv1", address="10.0.0.5", power=IpmiPower(kind="ipmi", address="10.0.1.5", user="admin",
                                                                 password_file=Path("/etc/ipmi.pass")))
    assert power_command(bmc, "off") == (
        "ipmitool -I lanplus -H 10.0.1.5 -U admin -f /etc/ipmi.pass chassis power off")


def test_plug_requests_arm_the_plugs_own_power_on() -> None:
    tasmota, gen2, gen1 = plug("tasmota"), plug("shelly"), plug("shelly", generation=1, relay=1)
    assert switches_back_on_by_itself(tasmota)
    assert http_request(tasmota, "off", 20) == (
        "http://192.168.1.50/cm", {"cmnd": "Backlog Power1 Off; Delay 200; Power1 On"})
    assert http_request(plug("shelly", address="10.0.0.9"), "off", 20) == (
        "http://10.0.0.9/rpc/Switch.Set", {"id": "0", "on": "false", "toggle_after": "20"})
    assert http_request(gen2, "status") == ("http://192.168.1.50/rpc/Switch.GetStatus", {"id": "0"})
    assert http_request(gen1, "off", 2.5) == ("http://192.168.1.50/relay/1", {"turn": "off", "timer": "2.5"})
    with pytest.raises(PowerDriverError, match="at most 360 s"):
        http_request(tasmota, "off", 400)


class FakePlug(BaseHTTPRequestHandler):
    """A Tasmota plug on loopback: remembers its relay, answers JSON."""

    state = "ON"
    seen: list[str] = []  # noqa: RUF012

    def do_GET(self) -> None:
        command = parse_qs(urlparse(self.path).query).get("cmnd", [""])[0]
        FakePlug.seen.append(command)
        if command.startswith("Backlog Power1 Off"):
            FakePlug.state = "OFF"
        body = json.dumps({"POWER1": FakePlug.state}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def tasmota() -> Iterator[Host]:
    server = HTTPServer(("127.0.0.1", 0), FakePlug)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield plug("tasmota", address=f"127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()


def test_a_tasmota_plug_over_http(tasmota: Host) -> None:
    assert power_status(tasmota) == (True, "tasmota: status answered (on)")
    run_power(tasmota, "off", back_on_after=8)
    assert FakePlug.seen[-1] == "Backlog Power1 Off; Delay 80; Power1 On"
    assert run_power(tasmota, "status") == "off"


def test_a_plug_that_does_not_answer_is_one_line() -> None:
    silent = plug("shelly", address="127.0.0.1:9")  # discard port: nothing listens
    ok, detail = power_status(silent, timeout=2)
    assert not ok and detail.startswith("power status: the plug did not answer (ConnectionError)")
