"""Power drivers: how the controller cuts and restores a host's power, and asks whether the driver answers.

- `command`: any shell command ON THE CONTROLLER (uhubctl, a PDU script), {name} and {address} substituted.
- `tasmota`, `shelly`: HTTP plugs that switch themselves back on after a delay they keep (Tasmota's
  `Backlog ...; Delay; Power On`, Shelly's `toggle_after` / `timer`): the hardware dead-man, so a
  controller that dies mid power-loss still leaves the host powered.
- `ipmi`: `ipmitool -I lanplus chassis power off|on|status` from the controller (no dead-man).
- `qemu`: a QEMU machine killed through its monitor (QMP `quit`) and started again by a command (no dead-man:
  the controller, or `lab heal`, powers on).
"""

from __future__ import annotations

import math
import shlex
import subprocess
from typing import Any, Literal

import requests

from pulltheplug.errors import FaultError
from pulltheplug.ssh.inventory import CommandPower, Host, HttpPower, IpmiPower, QemuPower
from pulltheplug.ssh.qmp import QmpError, QmpUnanswered, qmp, run_state
from pulltheplug.waiting import wait_until

PowerAction = Literal["on", "off", "status"]
TASMOTA_MAX_DELAY_S = 360.0  # Backlog's Delay takes 0.1 s steps up to 3600


class PowerDriverError(FaultError):
    """The power driver is missing or did not answer."""


def switches_back_on_by_itself(host: Host) -> bool:
    """Whether the driver itself restores power after an off with a delay (a dead-man off the controller)."""
    return isinstance(host.power, HttpPower)


def power_command(host: Host, action: PowerAction) -> str | None:
    """The controller-side shell command of a `command` or `ipmi` driver (None: no status command given)."""
    driver = _driver(host)
    if isinstance(driver, CommandPower):
        template = {"on": driver.on, "off": driver.off, "status": driver.status}[action]
        if template is None:
            return None
        return template.format(name=shlex.quote(host.name), address=shlex.quote(host.address))
    if isinstance(driver, IpmiPower):
        parts = ["ipmitool", "-I", "lanplus", "-H", driver.address]
        if driver.user:
            parts += ["-U", driver.user]
        if driver.password_file:
            parts += ["-f", str(driver.password_file)]
        return shlex.join([*parts, "chassis", "power", action])
    raise PowerDriverError(f"{host.name}: power driver {driver.kind} is driven over HTTP, not by a command")


def http_request(host: Host, action: PowerAction, back_on_after: float | None = None) -> tuple[str, dict[str, str]]:
    """(URL, query) for a Tasmota or Shelly plug; an off with `back_on_after` arms the plug's own power-on."""
    driver = _driver(host)
    if not isinstance(driver, HttpPower):
        raise PowerDriverError(f"{host.name}: power driver {driver.kind} is not an HTTP plug")
    base = driver.address if "://" in driver.address else f"http://{driver.address}"
    if driver.kind == "tasmota":
        relay = f"Power{driver.relay + 1}"
        if action == "status":
            return f"{base}/cm", {"cmnd": relay}
        if action == "off" and back_on_after is not None:
            if back_on_after > TASMOTA_MAX_DELAY_S:
                raise PowerDriverError(f"{host.name}: a Tasmota plug can switch back on after at most "
                                       f"{TASMOTA_MAX_DELAY_S:g} s, not {back_on_after:g}")
            tenths = max(1, math.ceil(back_on_after * 10))
            return f"{base}/cm", {"cmnd": f"Backlog {relay} Off; Delay {tenths}; {relay} On"}
        return f"{base}/cm", {"cmnd": f"{relay} {action.capitalize()}"}
    if driver.generation == 1:
        if action == "status":
            return f"{base}/relay/{driver.relay}", {}
        query: dict[str, str] = {"turn": action}
        if action == "off" and back_on_after is not None:
            query["timer"] = f"{back_on_after:g}"
        return f"{base}/relay/{driver.relay}", query
    if action == "status":
        return f"{base}/rpc/Switch.GetStatus", {"id": str(driver.relay)}
    rpc: dict[str, str] = {"id": str(driver.relay), "on": "true" if action == "on" else "false"}
    if action == "off" and back_on_after is not None:
        rpc["toggle_after"] = f"{back_on_after:g}"
    return f"{base}/rpc/Switch.Set", rpc


def relay_is_on(host: Host, answer: dict[str, Any]) -> bool | None:
    """Read a plug's status answer: True on, False off, None unreadable."""
    driver = _driver(host)
    if isinstance(driver, HttpPower) and driver.kind == "tasmota":
        value = answer.get(f"POWER{driver.relay + 1}", answer.get("POWER") if driver.relay == 0 else None)
        return None if value is None else str(value).upper() == "ON"
    key = "ison" if isinstance(driver, HttpPower) and driver.generation == 1 else "output"
    return bool(answer[key]) if isinstance(answer.get(key), bool) else None


def run_power(host: Host, action: PowerAction, timeout: float = 15.0, back_on_after: float | None = None) -> str:
    """Drive the power; raise one line naming the host when the driver fails. Returns what it answered."""
    driver = _driver(host)
    if isinstance(driver, HttpPower):
        return _http(host, action, timeout, back_on_after)
    if isinstance(driver, QemuPower):
        return _qemu(host, driver, action, timeout)
    command = power_command(host, action)
    if command is None:
        return "no status command"
    try:
        proc = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise PowerDriverError(f"{host.name}: power {action} gave no answer within {timeout:g} s") from None
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        raise PowerDriverError(f"{host.name}: power {action} failed: {last[0][:160]}")
    return proc.stdout.strip()[:160]


def power_status(host: Host, timeout: float = 10.0) -> tuple[bool, str]:
    """(answers, what was found) for `cluster check`."""
    kind = host.power.kind if host.power else "none"
    try:
        answer = run_power(host, "status", timeout)
    except PowerDriverError as exc:
        return False, str(exc).removeprefix(f"{host.name}: ")
    if answer == "no status command":
        return True, f"{kind}: no status command, not checked"
    return True, f"{kind}: status answered" + (f" ({answer})" if kind != "command" and answer else "")


def _qemu(host: Host, driver: QemuPower, action: PowerAction, timeout: float) -> str:
    """off: QMP `quit`, then the socket stops answering; on: the start command, then the machine runs."""
    if action == "status":
        state = run_state(driver.qmp)
        if state == "unknown":
            raise PowerDriverError(f"{host.name}: power status: its QEMU monitor ({driver.qmp}) does not answer")
        return state
    if action == "off":
        try:
            qmp(driver.qmp, "quit", timeout)
        except QmpUnanswered:
            return "off already"
        except QmpError as exc:
            raise PowerDriverError(f"{host.name}: power off: {exc}") from None
        if not wait_until(lambda: run_state(driver.qmp, 1.0) == "off", timeout, 0.1):
            raise PowerDriverError(f"{host.name}: power off: the machine still answers {timeout:g} s after quit")
        return "off"
    now = run_state(driver.qmp)
    if now == "unknown":  # a monitor that does not answer is no reason to start a second machine on its disk
        raise PowerDriverError(f"{host.name}: power on: its QEMU monitor ({driver.qmp}) does not answer")
    if now != "off":
        return "on already"
    command = driver.start.replace("{name}", shlex.quote(host.name)).replace("{address}", shlex.quote(host.address))
    try:
        proc = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise PowerDriverError(f"{host.name}: power on: its start command did not return within "
                               f"{timeout:g} s") from None
    if proc.returncode != 0 or run_state(driver.qmp) == "off":
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        raise PowerDriverError(f"{host.name}: power on failed: {last[0][:160]}")
    return "on"


def _driver(host: Host) -> CommandPower | HttpPower | IpmiPower | QemuPower:
    if host.power is None:
        raise PowerDriverError(f"{host.name}: no power driver: add `power: {{kind: command, on: ..., off: ...}}`")
    return host.power


def _http(host: Host, action: PowerAction, timeout: float, back_on_after: float | None) -> str:
    url, query = http_request(host, action, back_on_after)
    try:
        response = requests.get(url, params=query, timeout=timeout)
        response.raise_for_status()
        answer = response.json()
    except requests.exceptions.RequestException as exc:
        raise PowerDriverError(f"{host.name}: power {action}: the plug did not answer ({type(exc).__name__}): "
                               "check its address") from None
    except ValueError:
        raise PowerDriverError(f"{host.name}: power {action}: the plug's answer is not JSON") from None
    if action != "status" or not isinstance(answer, dict):
        return action
    state = relay_is_on(host, answer)
    if state is None:
        raise PowerDriverError(f"{host.name}: power status: no relay {_relay(host)} in the plug's answer")
    return "on" if state else "off"


def _relay(host: Host) -> int:
    return host.power.relay if isinstance(host.power, HttpPower) else 0
