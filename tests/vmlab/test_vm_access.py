"""What a VM lab writes for the SSH backend, and how it starts its machines (no machine is started here)."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from pulltheplug.lab.plan import plan_lab
from pulltheplug.lab.state import LabState
from pulltheplug.ssh.inventory import QemuPower, load_inventory
from pulltheplug.ssh.keys import new_ed25519
from pulltheplug.ssh.session import known_keys
from pulltheplug.vmlab import lab as vmlab
from pulltheplug.vmlab import machine
from pulltheplug.vmlab.image import Image, recipe_key


def _state(tmp_path: Path) -> LabState:
    plan = plan_lab("vmu", 3, 1, ipaddress.IPv4Network("10.213.77.0/24"), root=tmp_path)
    for node in plan.nodes:
        folder = machine.files(node).folder
        folder.mkdir(parents=True)
        machine.files(node).host_key_pub.write_bytes(new_ed25519(node.name).public)
    return LabState(plan=plan, kind="vm")


def test_the_inventory_and_known_hosts_are_what_the_ssh_backend_reads(tmp_path: Path) -> None:
    state = _state(tmp_path)
    vmlab.write_access(state)
    inventory = load_inventory(vmlab.inventory_path(state.plan))
    assert [(h.name, h.address, h.role, h.user, h.interface) for h in inventory.hosts] == [
        ("node1", "10.213.77.2", "manager", "root", "eth0"), ("node2", "10.213.77.3", "worker", "root", "eth0"),
        ("node3", "10.213.77.4", "worker", "root", "eth0")]
    node2 = inventory.host("node2")
    assert isinstance(node2.power, QemuPower) and node2.power.qmp == machine.files(state.plan.node("node2")).qmp
    assert node2.key == vmlab.login_key_path(state.plan)
    for host in inventory.hosts:  # each host's own key, made before its first boot: nothing trusted on first use
        keys = known_keys(vmlab.known_hosts_path(state.plan), host)
        known = {k.export_public_key("openssh").split()[1] for k in keys}
        made = machine.files(state.plan.node(host.name)).host_key_pub.read_bytes()
        assert known == {made.split()[1]}


def test_a_machine_is_started_in_the_hub_namespace_and_the_labs_cgroup_on_its_tap(tmp_path: Path) -> None:
    state = _state(tmp_path)
    plan, node = state.plan, state.plan.node("node2")
    image = Image.at(tmp_path / "image")
    argv = machine.qemu_argv(plan, node, image, "1g", 1, "tcg,thread=multi")
    assert f"tap,id=n0,ifname={node.hub_link},script=no,downscript=no" in argv
    assert "-daemonize" in argv and f"unix:{machine.files(node).qmp},server=on,wait=off" in argv
    assert any(a.startswith(f"file={machine.files(node).seed},") and "readonly=on" in a for a in argv)
    assert machine.mac(plan, node) != machine.mac(plan, plan.node("node3"))


def test_the_image_key_changes_with_its_recipe(monkeypatch: object) -> None:
    import pulltheplug.vmlab.image as image

    before = recipe_key()
    image.PACKAGES = (*image.PACKAGES, "strace")  # type: ignore[attr-defined]
    try:
        assert recipe_key() != before
    finally:
        image.PACKAGES = image.PACKAGES[:-1]  # type: ignore[attr-defined]
