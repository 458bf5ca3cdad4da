"""Ansible inventories, read as Ansible reads them.

Where Ansible is installed, `ansible-inventory --list` reads the inventory (INI, YAML, host ranges,
`group_vars/` and `host_vars/`, inventory plugins and scripts) and gives every host's final variables: what a
playbook run against that inventory would see. Without Ansible, a YAML inventory is read here with Ansible's
rules (group depth, then `ansible_group_priority`, then name; a host's own variables over any group's;
`group_vars/` over the inventory's inline group variables, `host_vars/` over everything), and what needs
Ansible itself (INI, ranges, plugins) is one line naming what to install. Both readers give the same
`Listing`, the shape `ansible-inventory --list` prints, so one mapping turns either into hosts.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pulltheplug.errors import SpecError

log = logging.getLogger(__name__)

INSTALL_HINT = ("install Ansible to read it (pip install 'pulltheplug[ansible]', which adds ansible-core, "
                "or apt install ansible)")
# `PULLTHEPLUG_ANSIBLE_INVENTORY=/path/to/ansible-inventory` picks one; `=none` reads YAML without Ansible.
COMMAND_ENV = "PULLTHEPLUG_ANSIBLE_INVENTORY"
OWN_READER = "pulltheplug's YAML reader (Ansible's precedence)"
TIMEOUT = 120.0  # s: an inventory plugin may ask a cloud API; a file takes half a second
_VAR_EXTENSIONS = ("", ".yml", ".yaml", ".json")  # what Ansible's host_group_vars plugin loads
_RANGE = re.compile(r"\[[^\]]*:[^\]]*\]")
_PORT = re.compile(r"^([^:\[\]]+):(\d+)$")


@dataclass
class Group:
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Listing:
    """Every host's final variables and the group tree, as `ansible-inventory --list` gives them."""

    hostvars: dict[str, dict[str, Any]]
    groups: dict[str, Group]
    reader: str

    def hosts(self) -> list[str]:
        """Every host once, in the order the inventory lists them (depth first from `all`)."""
        seen: dict[str, None] = {}
        for name in self._walk("all", set()):
            seen.setdefault(name, None)
        for name in self.hostvars:  # a host only in _meta (an inventory script may do that)
            seen.setdefault(name, None)
        return list(seen)

    def _walk(self, group: str, visiting: set[str]) -> Iterator[str]:
        if group in visiting or group not in self.groups:
            return
        visiting.add(group)
        yield from self.groups[group].hosts
        for child in self.groups[group].children:
            yield from self._walk(child, visiting)
        visiting.discard(group)

    def member_groups(self, host: str) -> set[str]:
        """The groups a host is in, directly or through a child group."""
        parents: dict[str, set[str]] = {}
        for name, group in self.groups.items():
            for child in group.children:
                parents.setdefault(child, set()).add(name)
        found = {name for name, group in self.groups.items() if host in group.hosts}
        todo = list(found)
        while todo:
            for parent in parents.get(todo.pop(), ()):
                if parent not in found:
                    found.add(parent)
                    todo.append(parent)
        return found


def listing_from_json(data: Mapping[str, Any], reader: str) -> Listing:
    """`ansible-inventory --list`'s JSON."""
    meta = data.get("_meta") or {}
    hostvars = {str(h): dict(v or {}) for h, v in (meta.get("hostvars") or {}).items()}
    groups = {str(name): Group(hosts=[str(h) for h in body.get("hosts") or []],
                               children=[str(c) for c in body.get("children") or []])
              for name, body in data.items() if name != "_meta" and isinstance(body, dict)}
    return Listing(hostvars=hostvars, groups=groups, reader=reader)


def ansible_inventory_command() -> Path | None:
    """The `ansible-inventory` to run: the one named by PULLTHEPLUG_ANSIBLE_INVENTORY, else the one beside
    this Python (the `ansible` extra installs it there), else the PATH's; None without Ansible."""
    chosen = os.environ.get(COMMAND_ENV)
    if chosen:
        return None if chosen.lower() == "none" else Path(chosen)
    beside = Path(sys.executable).parent / "ansible-inventory"
    if beside.is_file() and os.access(beside, os.X_OK):
        return beside
    found = shutil.which("ansible-inventory")
    return Path(found) if found else None


def list_with_ansible(path: Path, command: Path) -> Listing:
    """Run `ansible-inventory -i PATH --list` (in the current folder, so its ansible.cfg applies, as for a
    playbook); an inventory Ansible cannot parse fails here, never reads as empty."""
    env = {**os.environ, "ANSIBLE_INVENTORY_UNPARSED_FAILED": "True", "ANSIBLE_NOCOLOR": "1",
           "ANSIBLE_FORCE_COLOR": "0", "ANSIBLE_DEPRECATION_WARNINGS": "False", "PYTHONWARNINGS": "ignore"}
    try:
        done = subprocess.run([str(command), "-i", str(path), "--list"], capture_output=True, text=True,
                              env=env, timeout=TIMEOUT, check=False)
    except OSError as exc:
        raise SpecError(f"{path}: cannot run {command}: {exc.strerror} (set {COMMAND_ENV}=none to read a YAML "
                        "inventory without Ansible)") from exc
    except subprocess.TimeoutExpired as exc:
        raise SpecError(f"{path}: {command} did not answer within {TIMEOUT:.0f} s") from exc
    for line in done.stderr.splitlines():
        if line.strip():
            log.debug("ansible-inventory: %s", line)
    if done.returncode != 0:
        raise SpecError(f"{path}: Ansible cannot read it: {_why(done.stderr)}")
    try:
        data = json.loads(done.stdout)
    except json.JSONDecodeError as exc:
        raise SpecError(f"{path}: {command} printed no inventory JSON ({exc.msg})") from exc
    return listing_from_json(data, f"ansible-inventory ({_version(command)})")


def _why(stderr: str) -> str:
    """The line of Ansible's stderr that says what is wrong (its last detail line, else its last error)."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    details = [line for line in lines if not line.startswith(("[WARNING]", "[ERROR]", "Origin:", "<<<", "^"))]
    if details:
        return details[-1]
    errors = [line.removeprefix("[ERROR]: ") for line in lines if line.startswith("[ERROR]")]
    return errors[-1] if errors else "ansible-inventory failed"


@functools.cache
def _version(command: Path) -> str:
    try:
        done = subprocess.run([str(command), "--version"], capture_output=True, text=True, timeout=30,
                              env={**os.environ, "PYTHONWARNINGS": "ignore"}, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "version unknown"
    first = done.stdout.splitlines()[0] if done.stdout else ""
    m = re.search(r"core ([\w.]+)", first)
    return f"core {m.group(1)}" if m else "version unknown"


# ---- without Ansible: a YAML inventory read with Ansible's rules ----


def list_with_yaml(data: Any, source: str, base: Path | None, play_dir: Path | None = None) -> Listing:
    """A YAML inventory (`all:` or top-level groups) as Ansible's yaml plugin reads it and, when `base` is its
    folder, the `group_vars/` and `host_vars/` beside it; then those of `play_dir` (Ansible's playbook folder:
    where ansible-inventory runs, the current folder)."""
    if not isinstance(data, dict) or not data:
        raise SpecError(f"{source}: an Ansible inventory is a mapping of groups (`all:` ...)")
    if "plugin" in data:
        raise SpecError(f"{source}: an inventory plugin's config (plugin: {data['plugin']}): {INSTALL_HINT}")
    reader = _YamlReader(source)
    for name, body in data.items():
        reader.group(str(name), body)
    return reader.listing(base, play_dir)


class _YamlReader:
    """Ansible's yaml inventory plugin, for what pulltheplug reads: a group's keys in the file's order, a
    string where a mapping is expected read as one name, unknown keys skipped (Ansible warns)."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.groups: dict[str, Group] = {"all": Group(), "ungrouped": Group()}
        self.host_vars: dict[str, dict[str, Any]] = {}

    def group(self, name: str, body: Any) -> None:
        group = self.groups.setdefault(name, Group())
        if body is None:
            return
        if not isinstance(body, dict):
            raise SpecError(f"{self.source}: group {name}: an Ansible group is a mapping (hosts, vars, children)")
        for key, value in body.items():
            section = self._section(value, f"group {name}: {key}")
            if key == "vars":
                group.vars.update(section)
            elif key == "hosts":
                for pattern, host_vars in section.items():
                    host = self._host(str(pattern), host_vars)
                    if host not in group.hosts:
                        group.hosts.append(host)
            elif key == "children":
                for child, child_body in section.items():
                    if str(child) not in group.children:
                        group.children.append(str(child))
                    self.group(str(child), child_body)
            else:
                log.warning("%s: group %s: skipping the unexpected key %r (as Ansible does)", self.source, name, key)

    def _section(self, value: Any, where: str) -> dict[Any, Any]:
        if value is None:
            return {}
        if isinstance(value, str):  # `hosts: pi1` is one host, as Ansible reads it
            return {value: None}
        if not isinstance(value, dict):
            raise SpecError(f"{self.source}: {where}: a mapping")
        return value

    def _host(self, pattern: str, host_vars: Any) -> str:
        if _RANGE.search(pattern):
            raise SpecError(f"{self.source}: host {pattern}: a host range: {INSTALL_HINT}")
        own = dict(self._section(host_vars, f"host {pattern}"))
        name = pattern
        if (m := _PORT.match(pattern)) is not None:  # `pi1:2222` is pi1 on port 2222, as Ansible reads it
            name = m.group(1)
            if name not in self.host_vars:  # the port counts where the host is first named only
                own = {"ansible_port": int(m.group(2)), **own}
        self.host_vars.setdefault(name, {}).update(own)
        return name

    def listing(self, base: Path | None, play_dir: Path | None) -> Listing:
        self._link_top_groups()
        depth = self._depths()
        priority = {name: _priority(group.vars, self.source, name) for name, group in self.groups.items()}
        # a Listing first, without variables, for membership and order
        tree = Listing(hostvars={}, groups=self.groups, reader=OWN_READER)
        hostvars: dict[str, dict[str, Any]] = {}
        for host in tree.hosts():
            groups = sorted(tree.member_groups(host) | {"all"}, key=lambda g: (depth[g], priority[g], g))
            others = [g for g in groups if g != "all"]
            layers: list[dict[str, Any]] = [self.groups["all"].vars]  # Ansible's default precedence:
            layers += [self.groups[g].vars for g in others]  # inventory group vars, all first then by depth
            layers.append(_vars_files(base, "group_vars", "all", self.source))  # group_vars/all beside it
            layers.append(_vars_files(play_dir, "group_vars", "all", self.source))  # ... in the playbook folder
            layers += [_vars_files(base, "group_vars", g, self.source) for g in others]
            layers += [_vars_files(play_dir, "group_vars", g, self.source) for g in others]
            layers.append(self.host_vars.get(host, {}))  # the host's own, over any group's
            layers.append(_vars_files(base, "host_vars", host, self.source))
            layers.append(_vars_files(play_dir, "host_vars", host, self.source))
            merged: dict[str, Any] = {}
            for layer in layers:
                merged.update(layer)
            merged.pop("ansible_group_priority", None)  # the group's own setting, never a host's variable
            if merged:
                hostvars[host] = merged
        return Listing(hostvars=hostvars, groups=self.groups, reader=OWN_READER)

    def _link_top_groups(self) -> None:
        """Groups no group names as a child are `all`'s children; hosts only in `all` are `ungrouped`."""
        named = {child for group in self.groups.values() for child in group.children}
        top = self.groups["all"]
        top.children = ["ungrouped", *[c for c in top.children if c != "ungrouped"]]
        for name in self.groups:
            if name != "all" and name not in named and name not in top.children:
                top.children.append(name)
        elsewhere = {h for name, group in self.groups.items() if name not in ("all", "ungrouped")
                     for h in group.hosts}
        ungrouped = self.groups["ungrouped"]
        for host in top.hosts:
            if host not in elsewhere and host not in ungrouped.hosts:
                ungrouped.hosts.append(host)
        top.hosts = []

    def _depths(self) -> dict[str, int]:
        """A group's depth is its longest path from `all` (Ansible sorts group variables by it)."""
        depth: dict[str, int] = {}

        def visit(name: str, d: int, path: tuple[str, ...]) -> None:
            if name in path:
                raise SpecError(f"{self.source}: group {name}: is its own descendant ({' > '.join(path)})")
            if depth.get(name, -1) >= d:
                return
            depth[name] = d
            for child in self.groups[name].children:
                visit(child, d + 1, (*path, name))

        visit("all", 0, ())
        return depth


def _priority(group_vars: Mapping[str, Any], source: str, name: str) -> int:
    value = group_vars.get("ansible_group_priority", 1)
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise SpecError(f"{source}: group {name}: ansible_group_priority: {value!r} is not a number") from exc


def _vars_files(base: Path | None, folder: str, entity: str, source: str) -> dict[str, Any]:
    """What Ansible's host_group_vars plugin loads: the first of `group_vars/NAME` (a file, or a folder whose
    files are read in name order), `NAME.yml`, `NAME.yaml`, `NAME.json`; hidden files and folders skipped."""
    if base is None:
        return {}
    found: list[Path] = []
    for ext in _VAR_EXTENSIONS:
        candidate = base / folder / f"{entity}{ext}"
        if candidate.is_dir():
            found = sorted(p for p in candidate.rglob("*") if p.is_file() and p.suffix in _VAR_EXTENSIONS
                           and not any(part.startswith(".") for part in p.relative_to(candidate).parts))
            break
        if candidate.is_file():
            found = [candidate]
            break
    merged: dict[str, Any] = {}
    for path in found:
        try:
            data = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as exc:
            raise SpecError(f"{source}: {path}: cannot read it: {str(exc).splitlines()[0]}") from exc
        if data is None:
            continue
        if not isinstance(data, dict):
            raise SpecError(f"{source}: {path}: a vars file is a mapping of variables")
        merged.update(data)
    return merged
