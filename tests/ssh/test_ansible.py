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


# Inventories where a reader that is only close to Ansible goes wrong: each is written to a folder, read by
# ansible-inventory and by our reader, and the two must give every host the same variables.
TRICKY: dict[str, dict[str, str]] = {
    "group priority over name at one depth": {"hosts.yml": """
all:
  children:
    b: {vars: {ansible_user: b, ansible_group_priority: 10}, hosts: {h1: }}
    a: {vars: {ansible_user: a, ansible_group_priority: "5"}, hosts: {h1: }}
    c: {vars: {ansible_user: c, ansible_port: 2201}, hosts: {h1: , h2: }}
"""},
    "the first vars file found, not all": {
        "hosts.yml": "managers:\n  hosts: {m1: }\nworkers:\n  hosts: {w1: }\n",
        "group_vars/managers.yml": "ansible_port: 2201\n",
        "group_vars/managers.yaml": "ansible_port: 2202\n",
        "group_vars/managers.json": '{"pulltheplug_interface": "eth9"}\n',
        "group_vars/workers/a.yml": "ansible_port: 2301\n",
        "group_vars/workers/b.yml": "ansible_user: w\n",
        "group_vars/workers/.hidden/c.yml": "ansible_user: hidden\n",
        "group_vars/workers.yml": "ansible_port: 2302\n",
        "host_vars/w1.json": '{"ansible_host": "10.9.0.1"}\n',
    },
    "a group's keys in the file's order": {"hosts.yml": """
swarm:
  children:
    managers: {hosts: {m1: {ansible_user: child}}}
  hosts:
    m1: {ansible_user: parent}
"""},
    "a port where the host is first named only": {"hosts.yml": """
a: {hosts: {pi1: {ansible_user: u}}}
b: {hosts: {"pi1:2222": , "pi2:2200": }}
c: {hosts: {"pi2:2300": }}
"""},
    "an empty top-level group, one with vars only, a string section": {"hosts.yml": """
managers: {hosts: {m1: }}
spare:
monitoring: {vars: {x: 1}}
workers: {hosts: w1}
"""},
    "a group under two parents, all's vars under group_vars/all": {
        "hosts.yml": """
all:
  vars: {ansible_user: inline, ansible_port: 2000}
  children:
    left: {children: {managers: {hosts: {m1: , m2: }}}, vars: {ansible_port: 2100}}
    right: {children: {managers: , deep: {children: {workers: {hosts: {w1: }}}}}, vars: {ansible_port: 2200}}
""",
        "group_vars/all.yml": "ansible_user: from_file\n",
        "group_vars/left.yml": "pulltheplug_interface: eth1\n",
    },
}


def _write(folder: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.lstrip("\n"))
    return folder / "hosts.yml"


@pytest.mark.parametrize("case", TRICKY)
def test_our_reader_agrees_with_ansible_where_close_is_not_enough(case: str, tmp_path: Path,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml

    path = _write(tmp_path, TRICKY[case])
    monkeypatch.chdir(tmp_path.parent)  # not the inventory's folder: no playbook-folder vars
    listed = ansible_list(path)
    ours = list_with_yaml(yaml.safe_load(path.read_text()), str(path), path.parent, Path.cwd())
    assert json.loads(json.dumps(ours.hostvars)) == {h: v for h, v in listed["_meta"]["hostvars"].items() if v}
    assert {h["name"]: h for h in shown(path, env={COMMAND_ENV: "none"})["hosts"]} == \
        {h["name"]: h for h in shown(path)["hosts"]}


def test_the_playbook_folders_vars_apply_as_ansible_applies_them(tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    """ansible-inventory, like a playbook, also reads group_vars/ and host_vars/ of the folder it runs in."""
    path = _write(tmp_path / "inv", {"hosts.yml": "managers: {hosts: {m1: , m2: }}\n",
                                     "group_vars/all.yml": "ansible_user: inventory\nansible_port: 2001\n"})
    _write(tmp_path, {"group_vars/all.yml": "ansible_user: playbook\n", "group_vars/managers.yml":
                      "pulltheplug_interface: eth2\n", "host_vars/m2.yml": "ansible_port: 2202\n"})
    monkeypatch.chdir(tmp_path)
    with_ansible = {h["name"]: h for h in shown(path)["hosts"]}
    assert (with_ansible["m1"]["user"], with_ansible["m1"]["port"], with_ansible["m2"]["port"]) == \
        ("playbook", 2001, 2202)
    assert {h["name"]: h for h in shown(path, env={COMMAND_ENV: "none"})["hosts"]} == with_ansible


def test_ansibles_yaml_tags_are_read_by_ansible_and_named_without_it(tmp_path: Path) -> None:
    path = tmp_path / "hosts.yml"
    path.write_text("all:\n  vars: {ansible_become_password: !unsafe 'p{{a}}ss'}\n"
                    "  children: {managers: {hosts: {m1: {ansible_host: 10.0.0.1}}}}\n")
    assert [(h["name"], h["address"]) for h in shown(path)["hosts"]] == [("m1", "10.0.0.1")]
    done = subprocess.run([sys.executable, "-m", "pulltheplug", "cluster", "show", str(path)], capture_output=True,
                          text=True, env={**os.environ, COMMAND_ENV: "none"}, check=False)
    assert done.returncode == 2 and "YAML with Ansible's tags" in done.stderr and INSTALL_HINT in \
        done.stderr.replace("\n", "")


def test_a_templated_connection_variable_is_refused_in_one_line(tmp_path: Path) -> None:
    path = tmp_path / "hosts.yml"
    path.write_text("all:\n  hosts:\n    pi1: {ansible_host: '{{ inventory_hostname }}.lan'}\n")
    for env in (None, {COMMAND_ENV: "none"}):
        result = CliRunner().invoke(app, ["cluster", "show", str(path)], env=env)
        assert isinstance(result.exception, SpecError)
        assert str(result.exception).startswith(f"{path}: host pi1: ansible_host: a Jinja template")
