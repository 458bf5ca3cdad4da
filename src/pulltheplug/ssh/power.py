"""Power drivers: how the controller cuts and restores a host's power (and asks whether the driver answers).

Only `command` is implemented: any shell command ON THE CONTROLLER (uhubctl, a PDU script), with {name}
and {address} substituted. Tasmota, Shelly and IPMI are declared in the inventory and reported as not
implemented, so a plan that needs them fails at `cluster check`, before anything is injected.
"""

from __future__ import annotations

import shlex
import subprocess
from typing import Literal

from pulltheplug.errors import FaultError
from pulltheplug.ssh.inventory import IMPLEMENTED_POWER, CommandPower, Host

PowerAction = Literal["on", "off", "status"]


class PowerDriverError(FaultError):
    """The power driver is missing, not implemented, or did not answer."""


def power_command(host: Host, action: PowerAction) -> str | None:
    """The controller-side command for an action (None: a `command` driver without a status command)."""
    driver = host.power
    if driver is None:
        raise PowerDriverError(f"{host.name}: no power driver: add `power: {{kind: command, on: ..., off: ...}}`")
    if driver.kind not in IMPLEMENTED_POWER or not isinstance(driver, CommandPower):
        raise PowerDriverError(f"{host.name}: power driver {driver.kind} is not implemented yet: use kind command")
    template = {"on": driver.on, "off": driver.off, "status": driver.status}[action]
    if template is None:
        return None
    return template.format(name=shlex.quote(host.name), address=shlex.quote(host.address))


def run_power(host: Host, action: PowerAction, timeout: float = 15.0) -> None:
    """Run the driver's command on the controller; raise one line naming the host when it fails."""
    command = power_command(host, action)
    if command is None:
        return
    try:
        proc = subprocess.run(command, shell=True, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired:
        raise PowerDriverError(f"{host.name}: power {action} gave no answer within {timeout:g} s") from None
    if proc.returncode != 0:
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or [f"exit {proc.returncode}"]
        raise PowerDriverError(f"{host.name}: power {action} failed: {last[0][:160]}")


def power_status(host: Host, timeout: float = 10.0) -> tuple[bool, str]:
    """(answers, what was found) for `cluster check`."""
    try:
        command = power_command(host, "status")
        if command is None:
            return True, f"{host.power.kind if host.power else ''}: no status command, not checked"
        run_power(host, "status", timeout)
    except PowerDriverError as exc:
        return False, str(exc).removeprefix(f"{host.name}: ")
    return True, "command: status answered"
