"""Ansible inventories, read as Ansible reads them: `cluster show` held host by host against
`ansible-inventory --list` itself (installed by the `ansible` extra), for every shape users have."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from pulltheplug.cli.app import app
from pulltheplug.errors import SpecError
from pulltheplug.ssh.ansible import COMMAND_ENV, INSTALL_HINT, ansible_inventory_command, list_with_yaml
from pulltheplug.ssh.inventory import load_inventory, parse_inventory

EXAMPLES = Path(__file__).parent / "examples" / "ansible"
SHAPES = ["ini/hosts.ini", "ranges/hosts.yaml", "vars-dirs/hosts.yml", "precedence/hosts.yaml", "folder",
          "../ansible.yaml"]
YAML_SHAPES = ["vars-dirs/hosts.yml", "precedence/hosts.yaml", "../ansible.yaml"]  # no range: readable without
ROLE_GROUPS = {"managers": "manager", "swarm_managers": "manager", "workers": "worker", "swarm_workers": "worker"}
ANSIBLE = Path(sys.executable).parent / "ansible-inventory"


def ansible_list(path: Path) -> dict[str, Any]:
    """What Ansible itself reads, run by the test (the `ansible` extra puts it beside this Python)."""
    assert ANSIBLE.exists(), "ansible-inventory is missing: install with the extra, pip install -e '.[ansible]'"
    done = subprocess.run([str(ANSIBLE), "-i", str(path), "--list"], capture_output=True, text=True, check=True,
                          env={**os.environ, "PYTHONWARNINGS": "ignore"})
    listed: dict[str, Any] = json.loads(done.stdout)
    return listed


def expected_hosts(listed: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Host by host, what pulltheplug must take from Ansible's view (the README's mapping, written again)."""
    groups = {name: body for name, body in listed.items() if name != "_meta"}
    hostvars = listed["_meta"]["hostvars"]

    def members(group: str) -> set[str]:
        body = groups.get(group, {})
        found = set(body.get("hosts", []))
        for child in body.get("children", []):
            found |= members(child)
        return found

    names = members("all") | set(hostvars)
    out = {}
    for name in names:
        v = hostvars.get(name, {})
        roles = {role for group, role in ROLE_GROUPS.items() if name in members(group)}
        key = v.get("ansible_ssh_private_key_file")
        out[name] = {
            "address": v.get("ansible_host", name), "port": int(v.get("ansible_port", 22)),
            "user": v.get("ansible_user", "root"), "role": roles.pop() if roles else None,
            "interface": v.get("pulltheplug_interface"), "sudo": bool(v.get("ansible_become", False)),
            "key": str(Path(key).expanduser()) if key else None,
            "power": (v.get("pulltheplug_power") or {}).get("kind"),
        }
    return out


def shown(path: Path, env: dict[str, str] | None = None) -> dict[str, Any]:
    result = CliRunner().invoke(app, ["cluster", "show", str(path), "--format", "json"], env=env)
    assert result.exit_code == 0, result.output
    shown_json: dict[str, Any] = json.loads(result.output)
    return shown_json


@pytest.mark.parametrize("shape", SHAPES)
def test_cluster_show_gives_what_ansible_inventory_gives_host_by_host(shape: str) -> None:
    path = EXAMPLES / shape
    expected = expected_hosts(ansible_list(path))
    read = shown(path)
    assert read["reader"].startswith("ansible-inventory (core ")
    got = {h["name"]: {"address": h["address"], "port": h["port"], "user": h["user"], "role": h["role"],
                       "interface": h["interface"], "sudo": h["sudo"], "key": h["key"],
                       "power": (h["power"] or {}).get("kind")} for h in read["hosts"]}
    assert got == expected
    assert len(read["hosts"]) == len(expected) >= 3


def test_what_only_ansible_reads_is_read() -> None:
    """The shapes our YAML reader refuses: INI with ranges and ports, YAML ranges, a folder of sources."""
    ini = {h["name"]: h for h in shown(EXAMPLES / "ini/hosts.ini")["hosts"]}
    assert sorted(ini) == ["grafana.lan", "pi1", "pi2", "pi3", "pi4", "pi5", "pi6"]
    assert (ini["pi6"]["port"], ini["pi6"]["sudo"], ini["pi6"]["interface"]) == (2222, True, "eth1")
    assert (ini["pi2"]["user"], ini["pi1"]["user"]) == ("ubuntu", "pi")  # a host's own var over [swarm:vars]
    assert ini["pi4"]["power"] == {"kind": "tasmota", "address": "192.168.1.54", "relay": 0, "generation": 2}
    assert ini["pi4"]["address"] == "192.168.1.24"  # host_vars/pi4.yml
    ranges = [h["name"] for h in shown(EXAMPLES / "ranges/hosts.yaml")["hosts"]]
    assert ranges == ["pi01", "pi02", "pi03", "pi04", "pi05"]
    folder = {h["name"]: (h["role"], h["user"]) for h in shown(EXAMPLES / "folder")["hosts"]}
    assert folder == {"m1": ("manager", "ops"), "w1": ("worker", "ops"), "w2": ("worker", "ops")}


@pytest.mark.parametrize("shape", YAML_SHAPES)
def test_without_ansible_a_yaml_inventory_reads_with_ansibles_precedence(shape: str) -> None:
    """Our own reader gives every host exactly the variables ansible-inventory gives (group depth, name,
    priority, group_vars/ over inline group vars, a host's own over any group's, host_vars/ over all)."""
    import yaml

    path = EXAMPLES / shape
    listed = ansible_list(path)
    ours = list_with_yaml(yaml.safe_load(path.read_text()), str(path), path.parent)
    # through JSON, as Ansible prints them (YAML 1.1's `on:` key is True, which JSON writes "true")
    assert json.loads(json.dumps(ours.hostvars)) == {h: v for h, v in listed["_meta"]["hostvars"].items() if v}
    with_ansible = shown(path)["hosts"]
    without = shown(path, env={COMMAND_ENV: "none"})
    assert without["reader"].startswith("pulltheplug's YAML reader")
    assert sorted(without["hosts"], key=lambda h: h["name"]) == sorted(with_ansible, key=lambda h: h["name"])


def test_a_host_var_beats_a_later_groups_var() -> None:
    """The bug users met: a var set under a group that comes later in the file overrode the host's own."""
    inv = parse_inventory({"all": {"children": {
        "managers": {"hosts": {"pi1": {"ansible_user": "own"}}},
        "zeta": {"vars": {"ansible_user": "group"}, "hosts": {"pi1": None}},
    }}})
    assert inv.host("pi1").user == "own"


@pytest.mark.parametrize(("shape", "what"), [
    ("ini/hosts.ini", "an INI inventory"),
    ("ranges/hosts.yaml", "host pi[01:03]: a host range"),
    ("folder", "an inventory folder"),
])
def test_without_ansible_what_needs_it_is_one_line_naming_what_to_install(
        shape: str, what: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(COMMAND_ENV, "none")
    assert ansible_inventory_command() is None
    with pytest.raises(SpecError) as caught:
        load_inventory(EXAMPLES / shape)
    message = str(caught.value)
    assert message == f"{EXAMPLES / shape}: {what}: {INSTALL_HINT}" and "\n" not in message
    done = subprocess.run([sys.executable, "-m", "pulltheplug", "cluster", "show", str(EXAMPLES / shape)],
                          capture_output=True, text=True, env={**os.environ, COMMAND_ENV: "none"}, check=False)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr.replace("\n", "") == f"error: {message}"  # the one line, in full (Rich wraps it)


def test_an_inventory_ansible_cannot_parse_is_one_line_with_ansibles_reason(tmp_path: Path) -> None:
    path = tmp_path / "hosts.ini"
    path.write_text("[managers]\npi1 ansible_host\n")
    with pytest.raises(SpecError) as caught:
        load_inventory(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: Ansible cannot read it: ") and "\n" not in message
    assert "key=value" in message  # Ansible's own words about the line


def test_a_relative_key_is_relative_to_where_ansible_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As for a playbook: Ansible hands ssh the path as written, so it is read from the current folder."""
    (tmp_path / "inv").mkdir()
    path = tmp_path / "inv" / "hosts.yml"
    path.write_text("all:\n  hosts:\n    pi1: {ansible_ssh_private_key_file: keys/pi}\n")
    monkeypatch.chdir(tmp_path)
    assert load_inventory(path).host("pi1").key == tmp_path / "keys/pi"
