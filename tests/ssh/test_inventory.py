"""The inventory: our own YAML (a list or a mapping of hosts) and Ansible's, with one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from pulltheplug.errors import SpecError
from pulltheplug.ssh.inventory import CommandPower, load_inventory, parse_inventory

EXAMPLES = Path(__file__).parent / "examples"


def test_own_list_inventory_reads_every_field_and_defaults() -> None:
    inv = load_inventory(EXAMPLES / "own-list.yaml")
    pi1, pi2 = inv.hosts
    assert (pi1.name, pi1.address, pi1.port, pi1.user, pi1.role, pi1.interface) == (
        "pi1", "192.168.1.21", 22, "root", "manager", "eth0")
    assert pi1.key == EXAMPLES / "keys/id_ed25519"  # relative to the inventory's folder
    assert isinstance(pi1.power, CommandPower) and pi1.power.status == "uhubctl -l 1-1"
    assert pi1.docker_socket == "/var/run/docker.sock" and not pi1.sudo
    assert (pi2.port, pi2.user, pi2.sudo, pi2.role, pi2.interface, pi2.power) == (2222, "pi", True, None, None, None)
    assert pi2.faults == {"freeze": "echo FROZEN > /sys/fs/cgroup/freezer/docker/freezer.state"}


def test_own_mapping_inventory_takes_names_from_keys() -> None:
    inv = load_inventory(EXAMPLES / "own-mapping.yaml")
    assert inv.names == ["pi1", "pi2"]
    assert inv.host("pi2").address == "192.168.1.22"


def test_ansible_inventory_maps_connection_vars_groups_and_our_prefixed_vars() -> None:
    inv = load_inventory(EXAMPLES / "ansible.yaml")
    assert inv.names == ["pi1", "pi2", "pi3", "grafana.lan"]
    pi1, pi2, pi3, other = inv.hosts
    assert (pi1.address, pi1.user, pi1.sudo, pi1.role) == ("192.168.1.21", "pi", True, "manager")
    assert pi1.key == Path("~/.ssh/pi_ed25519").expanduser()
    assert (pi2.port, pi2.role, pi2.interface) == (2200, "worker", "wlan0")
    assert pi3.user == "root" and isinstance(pi3.power, CommandPower) and pi3.power.off == "pdu off 3"
    assert (other.address, other.role) == ("grafana.lan", None)  # no ansible_host: the name is the address


def test_ansible_top_level_groups_without_all() -> None:
    inv = parse_inventory({"swarm_managers": {"hosts": {"a": {"ansible_host": "10.0.0.1"}}},
                           "swarm_workers": {"hosts": {"b": {"ansible_host": "10.0.0.2"}}}})
    assert [(h.name, h.role) for h in inv.hosts] == [("a", "manager"), ("b", "worker")]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("hosts:\n  - name: pi1\n    address: 10.0.0.1\n    port: 70000\n", "hosts.yaml: host pi1: port:"),
        ("hosts:\n  pi1: {address: 10.0.0.1, role: boss}\n", "hosts.yaml: host pi1: role:"),
        ("hosts:\n  pi1: {address: 10.0.0.1, colour: red}\n", "hosts.yaml: host pi1: colour:"),
        ("hosts:\n  pi1: {port: 22}\n", "hosts.yaml: host pi1: address:"),
        ("hosts:\n  pi1: {address: 10.0.0.1, power: {kind: command, on: x}}\n", "hosts.yaml: host pi1: power.off:"),
        ("hosts:\n  pi1: {address: 10.0.0.1, power: {kind: snmp}}\n", "hosts.yaml: host pi1: power:"),
        ("hosts:\n  pi1: {address: 10.0.0.1, faults: {nic-down: 'ip l s {dev} down'}}\n",
         "hosts.yaml: host pi1: faults: Value error, nic-down: unknown placeholder {dev}"),
        ("hosts:\n  pi1: {address: 10.0.0.1, faults: {unplug: x}}\n", "hosts.yaml: host pi1: faults.unplug"),
        ("hosts:\n  pi1: {address: 10.0.0.1, interface: 'eth0; reboot'}\n", "hosts.yaml: host pi1: interface:"),
        ("hosts:\n  a: {address: 10.0.0.1}\n  b: {address: 10.0.0.1}\n", "hosts.yaml: host b: address: 10.0.0.1:22 is"),
        ("hosts: []\n", "hosts.yaml: hosts: list at least one host"),
        ("nodes: []\n", "hosts.yaml: nodes: unknown section"),
        ("hosts: {a: {address: x}}\nextra: 1\n", "hosts.yaml: extra: unknown section"),
        ("hosts: [1, 2\n", "hosts.yaml: not valid YAML"),
        ("all:\n  children:\n    managers: {hosts: {a: {}}}\n    workers: {hosts: {a: {}}}\n",
         "hosts.yaml: host a: role: in both a managers and a workers group"),
        ("all:\n  hosts:\n    pi1: {ansible_port: many}\n", "hosts.yaml: host pi1: port:"),
    ],
)
def test_bad_inventory_is_one_line_naming_file_host_and_field(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "hosts.yaml"
    path.write_text(text)
    with pytest.raises(SpecError) as caught:
        load_inventory(path)
    assert message in str(caught.value) and str(caught.value).startswith(str(tmp_path))
    assert "\n" not in str(caught.value)


def test_a_missing_inventory_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(SpecError, match=r"cannot read inventory .*nope\.yaml"):
        load_inventory(tmp_path / "nope.yaml")


def test_unknown_host_name_lists_the_known_ones() -> None:
    with pytest.raises(SpecError, match="no host 'pi9': pick one of pi1, pi2"):
        load_inventory(EXAMPLES / "own-mapping.yaml").host("pi9")
