"""The hosts of a real cluster: where to reach each one, how to log in, what to fault, how to cut its power.

Read from our own YAML (`hosts:` as a list or a mapping by name), or from an Ansible inventory, which people
who run Raspberry Pi clusters usually already have, as Ansible reads it (`ssh/ansible.py`). Every error names
the file, the host and the field, in one line.
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
from pulltheplug.ssh.ansible import (
    INSTALL_HINT,
    Listing,
    ansible_inventory_command,
    list_with_ansible,
    list_with_yaml,
)

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
# Their older names (Ansible still reads them), used where the current name is not set.
_ANSIBLE_ALIASES = {"ansible_ssh_host": "address", "ansible_ssh_port": "port", "ansible_ssh_user": "user",
                    "ansible_private_key_file": "key"}
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


_ON_OFF: dict[object, str] = {True: "on", False: "off", "true": "on", "false": "off"}


def _on_off_keys(value: Any) -> Any:
    """YAML 1.1 reads the keys `on:` and `off:` as booleans (and ansible-inventory's JSON then prints them as
    "true" and "false"): give them their names back."""
    if not isinstance(value, dict):
        return value
    named = "on" in value or "off" in value  # one of them quoted: "true"/"false" are then not ansible's
    return {(_ON_OFF[k] if isinstance(k, bool) or (k in ("true", "false") and not named) else k): v
            for k, v in value.items()}


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
    reader: str = Field("pulltheplug", description="What read it: pulltheplug's own format, ansible-inventory, "
                        "or pulltheplug's YAML reader of an Ansible inventory.")

    def host(self, name: str) -> Host:
        for host in self.hosts:
            if host.name == name:
                return host
        raise SpecError(f"{self.source}: no host {name!r}: pick one of {', '.join(h.name for h in self.hosts)}")

    @property
    def names(self) -> list[str]:
        return [h.name for h in self.hosts]


def load_inventory(path: Path) -> Inventory:
    """Our own inventory (`hosts:`; key paths relative to its folder), or an Ansible one as Ansible reads it
    (through `ansible-inventory` where Ansible is installed; key paths as Ansible passes them to ssh)."""
    if path.is_dir():  # an Ansible inventory folder (several sources, group_vars/ inside)
        return _from_listing(_ansible_listing(path, _NOT_YAML), str(path))
    text = read_text(path, f"cannot read inventory {path}")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        # INI, a script, or YAML with Ansible's own tags (!vault, !unsafe): Ansible reads them; else say where
        # the YAML breaks
        ansible_tags = isinstance(exc, yaml.constructor.ConstructorError) and "tag" in str(exc)
        if not (_looks_ini(text) or text.startswith("#!") or ansible_tags):
            raise SpecError(f"{path}: not valid YAML: {str(exc).splitlines()[0]}") from exc
        if ansible_tags and ansible_inventory_command() is None:
            raise SpecError(f"{path}: YAML with Ansible's tags ({str(exc).splitlines()[0]}): {INSTALL_HINT}") \
                from exc
        data = _NOT_YAML
    if isinstance(data, dict) and not _looks_ansible(data):
        return parse_inventory(data, str(path), base=path.parent)
    return _from_listing(_ansible_listing(path, data), str(path))


_NOT_YAML = object()  # a file YAML cannot parse (INI, a script): only Ansible reads it


def _looks_ini(text: str) -> bool:
    return any(line.strip().startswith("[") and line.strip().endswith("]") for line in text.splitlines())


def _ansible_listing(path: Path, data: Any) -> Listing:
    command = ansible_inventory_command()
    if command is not None:
        return list_with_ansible(path, command)
    if path.is_dir():
        raise SpecError(f"{path}: an inventory folder: {INSTALL_HINT}")
    if data is _NOT_YAML or not isinstance(data, dict):
        kind = "an INI inventory" if _looks_ini(path.read_text()) else "not a YAML inventory (a script?)"
        raise SpecError(f"{path}: {kind}: {INSTALL_HINT}")
    return list_with_yaml(data, str(path), path.parent, Path.cwd())


def parse_inventory(data: Any, source: str = "inventory", base: Path | None = None) -> Inventory:
    """Inventory from parsed YAML: `{hosts: [...]}`, `{hosts: {name: {...}}}` or Ansible's `{all: ...}` (read
    here with Ansible's rules; `base`: the folder whose group_vars/ and host_vars/ apply)."""
    if not isinstance(data, dict) or not data:
        raise SpecError(f"{source}: an inventory is a mapping with `hosts:` (or an Ansible `all:` group)")
    if _looks_ansible(data):
        return _from_listing(list_with_yaml(data, source, base), source)
    extra = sorted(set(data) - {"hosts"})
    if extra:
        raise SpecError(f"{source}: {extra[0]}: unknown section (an inventory has only `hosts:`)")
    raw = _own_hosts(data.get("hosts"), source)
    hosts = [_host(name, fields, source, base) for name, fields in raw]
    _check_unique(hosts, source)
    return Inventory(hosts=tuple(hosts), source=source)


def _looks_ansible(data: Mapping[str, Any]) -> bool:
    """`all:`, a plugin's config, or top-level groups (each a mapping, or empty) as Ansible allows; ours has
    `hosts:` at the top."""
    if "all" in data or "plugin" in data:
        return True
    if "hosts" in data:
        return False
    return all(group is None or isinstance(group, dict) for group in data.values())


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


def _from_listing(listing: Listing, source: str) -> Inventory:
    """Hosts from Ansible's view: connection variables, `pulltheplug_*` variables, roles from groups."""
    names = listing.hosts()
    if not names:
        raise SpecError(f"{source}: the Ansible inventory names no hosts")
    hosts = []
    for name in names:
        roles = {_ROLE_GROUPS[g] for g in listing.member_groups(name) if g in _ROLE_GROUPS}
        if len(roles) > 1:
            raise SpecError(f"{source}: host {name}: role: in both a managers and a workers group")
        fields = _from_ansible(name, listing.hostvars.get(name, {}), source)
        if roles:
            fields["role"] = roles.pop()
        # a relative key is relative to the folder Ansible (and ssh) runs in, as for a playbook
        hosts.append(_host(name, fields, source, Path.cwd()))
    _check_unique(hosts, source)
    return Inventory(hosts=tuple(hosts), source=source, reader=listing.reader)


def _from_ansible(name: str, host_vars: Mapping[str, Any], source: str) -> dict[str, Any]:
    fields: dict[str, Any] = {"address": name}
    for var, value in host_vars.items():
        if (var in _ANSIBLE_VARS or var in _ANSIBLE_ALIASES or var.startswith(_OUR_PREFIX)) and _templated(value):
            raise SpecError(f"{source}: host {name}: {var}: a Jinja template ({str(value)[:60]!r}): pulltheplug "
                            "does not render templates: set a literal value (or pulltheplug_<field>)")
        if var in _ANSIBLE_VARS:
            fields[_ANSIBLE_VARS[var]] = value
        elif var.startswith(_OUR_PREFIX):
            fields[var.removeprefix(_OUR_PREFIX)] = value
        # any other Ansible variable is the playbook's business, not ours
    for var, target in _ANSIBLE_ALIASES.items():  # the older names, where the current one is not set
        current = [v for v, t in _ANSIBLE_VARS.items() if t == target]
        if var in host_vars and all(host_vars.get(v) is None for v in current):
            fields[target] = host_vars[var]
    return fields


def _templated(value: Any) -> bool:
    if isinstance(value, str):
        return "{{" in value or "{%" in value
    if isinstance(value, dict):
        return any(_templated(v) for v in value.values())
    return False


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
