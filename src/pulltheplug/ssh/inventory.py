"""The hosts of a real cluster: where to reach each one, how to log in, what to fault, how to cut its power.

Pure: read from our own YAML (`hosts:` as a list or a mapping by name) or from an Ansible YAML inventory,
which people who run Raspberry Pi clusters usually already have. Every error names the file, the host and
the field, in one line.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from string import Formatter
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, ValidationError, field_validator

from pulltheplug.errors import SpecError
from pulltheplug.spec.base import read_text

Role = Literal["manager", "worker"]
# The node actions a host may override with a command template of its own ({iface}, {seconds} substituted).
FaultAction = Literal["nic-down", "nic-up", "freeze", "thaw", "reboot", "crash", "unfilter", "engine-kill",
                      "engine-start"]
TEMPLATE_FIELDS = frozenset({"iface", "seconds"})
FAULT_ACTIONS: tuple[FaultAction, ...] = ("nic-down", "nic-up", "freeze", "thaw", "reboot", "crash", "unfilter",
                                          "engine-kill", "engine-start")

# Ansible group names that say a host's swarm role.
_ROLE_GROUPS: dict[str, Role] = {
    "managers": "manager", "manager": "manager", "swarm_managers": "manager",
    "workers": "worker", "worker": "worker", "swarm_workers": "worker",
}
# Ansible connection variables and the inventory fields they fill.
_ANSIBLE_VARS = {
    "ansible_host": "address", "ansible_port": "port", "ansible_user": "user",
    "ansible_ssh_private_key_file": "key", "ansible_become": "sudo",
}
_OUR_PREFIX = "pulltheplug_"  # `pulltheplug_interface: wlan0` in Ansible host or group vars


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CommandPower(_Frozen):
    """Shell commands run on the controller (uhubctl, a PDU script); {name} and {address} are substituted."""

    kind: Literal["command"]
    on: str = Field(min_length=1)
    off: str = Field(min_length=1)
    status: str | None = Field(None, description="Exits 0 when the driver answers; `cluster check` runs it.")


class HttpPower(_Frozen):
    """A Tasmota or Shelly plug over HTTP: it switches itself back on (the hardware dead-man)."""

    kind: Literal["tasmota", "shelly"]
    address: str = Field(min_length=1, description="Host or URL of the plug, e.g. 192.168.1.50.")
    relay: int = Field(0, ge=0, le=7, description="Which relay (0 = the first).")
    generation: Literal[1, 2] = Field(2, description="Shelly only: Gen1 (/relay) or Gen2+ (/rpc) API.")


class IpmiPower(_Frozen):
    """A BMC reached with `ipmitool -I lanplus` from the controller (no dead-man: the controller powers on)."""

    kind: Literal["ipmi"]
    address: str = Field(min_length=1)
    user: str | None = None
    password_file: Path | None = None


class QemuPower(_Frozen):
    """A QEMU machine (the VM lab's, or your own): off kills it through its monitor (QMP `quit`: no shutdown, as
    a pulled plug), on runs `start` on the controller. {name} and {address} are substituted in `start`."""

    kind: Literal["qemu"]
    qmp: Path = Field(description="The machine's QMP unix socket (qemu -qmp unix:PATH,server=on,wait=off).")
    start: str = Field(min_length=1, description="Shell command on the controller that starts the machine "
                       "again and returns once it runs (qemu -daemonize).")


def _on_off_keys(value: Any) -> Any:
    """YAML 1.1 reads the keys `on:` and `off:` as booleans: give them their names back."""
    if isinstance(value, dict):
        return {({True: "on", False: "off"}[k] if isinstance(k, bool) else k): v for k, v in value.items()}
    return value


PowerDriver = Annotated[CommandPower | HttpPower | IpmiPower | QemuPower, Field(discriminator="kind"),
                        BeforeValidator(_on_off_keys)]
IMPLEMENTED_POWER = frozenset({"command", "tasmota", "shelly", "ipmi", "qemu"})


class Host(_Frozen):
    """One machine of the cluster."""

    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$")
    address: str = Field(min_length=1)
    port: int = Field(22, ge=1, le=65535)
    user: str = Field("root", min_length=1)
    key: Path | None = Field(None, description="Private key; None: the SSH agent and ~/.ssh/id_* defaults.")
    role: Role | None = Field(None, description="None: read from the live swarm.")
    interface: str | None = Field(None, pattern=r"^[A-Za-z0-9_.:@-]{1,15}$",
                                  description="None: the one carrying the swarm's advertise address.")
    docker_socket: str = "/var/run/docker.sock"
    sudo: bool = Field(False, description="Run commands through `sudo -n` (the user is not root).")
    power: PowerDriver | None = None
    faults: dict[FaultAction, str] = Field(default_factory=dict, description="Per-action command overrides.")

    @field_validator("faults")
    @classmethod
    def _templates_use_known_fields(cls, faults: dict[FaultAction, str]) -> dict[FaultAction, str]:
        for action, template in faults.items():
            try:
                fields = {f for _, f, _, _ in Formatter().parse(template) if f is not None}
            except ValueError as exc:
                raise ValueError(f"{action}: {exc} (write a literal brace as {{{{ or }}}})") from exc
            unknown = sorted(fields - TEMPLATE_FIELDS)
            if unknown:
                raise ValueError(f"{action}: unknown placeholder {{{unknown[0]}}}: use {{iface}} or {{seconds}}")
        return faults


class Inventory(_Frozen):
    hosts: tuple[Host, ...] = Field(min_length=1)
    source: str = "inventory"

    def host(self, name: str) -> Host:
        for host in self.hosts:
            if host.name == name:
                return host
        raise SpecError(f"{self.source}: no host {name!r}: pick one of {', '.join(h.name for h in self.hosts)}")

    @property
    def names(self) -> list[str]:
        return [h.name for h in self.hosts]


def load_inventory(path: Path) -> Inventory:
    """Our own inventory or an Ansible YAML one; key paths are relative to the file's folder."""
    text = read_text(path, f"cannot read inventory {path}")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise SpecError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from exc
    return parse_inventory(data, str(path), base=path.parent)


def parse_inventory(data: Any, source: str = "inventory", base: Path | None = None) -> Inventory:
    """Inventory from parsed YAML: `{hosts: [...]}`, `{hosts: {name: {...}}}` or Ansible's `{all: ...}`."""
    if not isinstance(data, dict) or not data:
        raise SpecError(f"{source}: an inventory is a mapping with `hosts:` (or an Ansible `all:` group)")
    if not _looks_ansible(data):
        extra = sorted(set(data) - {"hosts"})
        if extra:
            raise SpecError(f"{source}: {extra[0]}: unknown section (an inventory has only `hosts:`)")
        raw = _own_hosts(data.get("hosts"), source)
    else:
        raw = _ansible_hosts(data, source)
    hosts = [_host(name, fields, source, base) for name, fields in raw]
    _check_unique(hosts, source)
    return Inventory(hosts=tuple(hosts), source=source)


def _looks_ansible(data: Mapping[str, Any]) -> bool:
    """`all:`, or top-level groups (mappings with hosts or children) as Ansible also allows."""
    if "all" in data:
        return True
    if "hosts" in data:
        return False
    return all(isinstance(group, dict) and ("hosts" in group or "children" in group) for group in data.values())


def _own_hosts(hosts: Any, source: str) -> list[tuple[str, dict[str, Any]]]:
    if isinstance(hosts, dict):
        out = []
        for name, fields in hosts.items():
            fields = fields or {}
            if not isinstance(fields, dict):
                raise SpecError(f"{source}: host {name}: a host is a mapping of fields")
            out.append((str(name), fields))
        return out
    if isinstance(hosts, list) and hosts:
        out = []
        for i, fields in enumerate(hosts):
            if not isinstance(fields, dict) or "name" not in fields:
                raise SpecError(f"{source}: hosts[{i}]: a host is a mapping with at least `name:` and `address:`")
            rest = {k: v for k, v in fields.items() if k != "name"}
            out.append((str(fields["name"]), rest))
        return out
    raise SpecError(f"{source}: hosts: list at least one host (a list, or a mapping by name)")


def _ansible_hosts(data: Mapping[str, Any], source: str) -> list[tuple[str, dict[str, Any]]]:
    """Walk Ansible groups (vars flow down, host vars win); a managers/workers group gives the role."""
    found: dict[str, dict[str, Any]] = {}

    def walk(group: str, body: Any, inherited: dict[str, Any], role: Role | None) -> None:
        if body is None:
            return
        if not isinstance(body, dict):
            raise SpecError(f"{source}: group {group}: an Ansible group is a mapping (hosts, vars, children)")
        role = _ROLE_GROUPS.get(group, role)
        group_vars = {**inherited, **(body.get("vars") or {})}
        for name, host_vars in (body.get("hosts") or {}).items():
            merged = {**found.get(str(name), {}), **group_vars, **(host_vars or {})}
            if role is not None:
                if merged.get("_role", role) != role:
                    raise SpecError(f"{source}: host {name}: role: in both a managers and a workers group")
                merged["_role"] = role
            found[str(name)] = merged
        for child, child_body in (body.get("children") or {}).items():
            walk(str(child), child_body, group_vars, role)

    top = data.get("all", {"children": data})
    walk("all", top, {}, None)
    if not found:
        raise SpecError(f"{source}: the Ansible inventory names no hosts")
    return [(name, _from_ansible(name, host_vars)) for name, host_vars in found.items()]


def _from_ansible(name: str, host_vars: Mapping[str, Any]) -> dict[str, Any]:
    fields: dict[str, Any] = {"address": name}
    for var, value in host_vars.items():
        if var == "_role":
            fields["role"] = value
        elif var in _ANSIBLE_VARS:
            fields[_ANSIBLE_VARS[var]] = value
        elif var.startswith(_OUR_PREFIX):
            fields[var.removeprefix(_OUR_PREFIX)] = value
        # any other Ansible variable is the playbook's business, not ours
    return fields


def _host(name: str, fields: dict[str, Any], source: str, base: Path | None) -> Host:
    try:
        host = Host.model_validate({"name": name, **fields})
    except ValidationError as exc:
        first = exc.errors()[0]
        loc = [str(x) for x in first["loc"] if not str(x).startswith("function-")]
        if len(loc) > 1 and loc[0] == "power" and loc[1] in {"command", "tasmota", "shelly", "ipmi"}:
            del loc[1]  # the union's tag says nothing the user wrote
        field = ".".join(loc) or "host"
        raise SpecError(f"{source}: host {name}: {field}: {first['msg']}") from exc
    if host.key is not None:
        key = host.key.expanduser()
        if base is not None and not key.is_absolute():
            key = base / key
        host = host.model_copy(update={"key": key})
    return host


def _check_unique(hosts: list[Host], source: str) -> None:
    names: set[str] = set()
    endpoints: dict[tuple[str, int], str] = {}
    for host in hosts:
        if host.name in names:
            raise SpecError(f"{source}: host {host.name}: name: listed twice")
        names.add(host.name)
        endpoint = (host.address, host.port)
        if endpoint in endpoints:
            raise SpecError(f"{source}: host {host.name}: address: {host.address}:{host.port} "
                            f"is also host {endpoints[endpoint]}")
        endpoints[endpoint] = host.name
