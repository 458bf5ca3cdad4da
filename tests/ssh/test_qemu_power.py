"""The `qemu` power driver against a real QEMU process (a machine with no guest: `-machine none`, its monitor
only): off kills it through QMP, on starts it again with its start command, status reads QMP."""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from pulltheplug.ssh.inventory import Host, QemuPower, parse_inventory
from pulltheplug.ssh.power import run_power
from pulltheplug.waiting import wait_until

pytestmark = pytest.mark.skipif(shutil.which("qemu-system-x86_64") is None, reason="needs qemu-system-x86")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"


@pytest.fixture
def machine(tmp_path: Path) -> Iterator[tuple[Host, Path]]:
    """A host whose power is a QEMU process; whatever the test leaves running is ended by its pid."""
    sock, pidfile = tmp_path / "qmp.sock", tmp_path / "qemu.pid"
    start = tmp_path / "start.sh"
    start.write_text(f"exec qemu-system-x86_64 -machine none -display none -qmp unix:{shlex.quote(str(sock))},"
                     f"server=on,wait=off -pidfile {shlex.quote(str(pidfile))} -daemonize\n")
    host = Host(name="vm1", address="10.213.9.2", power=QemuPower(kind="qemu", qmp=sock, start=f"sh {start}"))
    try:
        yield host, pidfile
    finally:
        with contextlib.suppress(OSError, ValueError):
            pid = int(pidfile.read_text())
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)


def test_off_kills_the_machine_and_on_starts_it_again(machine: tuple[Host, Path]) -> None:
    host, pidfile = machine
    assert run_power(host, "status") == "off"
    assert run_power(host, "on") == "on"
    first = int(pidfile.read_text())
    assert _alive(first) and run_power(host, "status") in ("running", "prelaunch")
    assert run_power(host, "on") == "on already"
    assert run_power(host, "off") == "off"
    assert wait_until(lambda: not _alive(first), 5.0, 0.05)  # killed, not shut down: there was no guest to ask
    assert run_power(host, "status") == "off" and run_power(host, "off") == "off already"
    assert run_power(host, "on") == "on"
    second = int(pidfile.read_text())
    assert second != first and _alive(second)


def test_a_qemu_driver_is_read_from_an_inventory(tmp_path: Path) -> None:
    inv = parse_inventory({"hosts": {"vm1": {"address": "10.0.0.2", "power": {
        "kind": "qemu", "qmp": "/run/vm1.sock", "start": "sh /srv/vm1/start.sh"}}}})
    power = inv.host("vm1").power
    assert isinstance(power, QemuPower) and power.qmp == Path("/run/vm1.sock")


def test_the_resume_dead_man_resumes_a_paused_machine_unless_disarmed(machine: tuple[Host, Path]) -> None:
    from pulltheplug.ssh.qmp import ResumeDeadman, qmp, run_state

    host, _ = machine
    assert isinstance(host.power, QemuPower)
    sock = host.power.qmp
    run_power(host, "on")
    qmp(sock, "stop")
    assert run_state(sock) == "paused"
    kept = ResumeDeadman(sock, 30.0)  # armed, then disarmed: it must never resume
    kept.disarm()
    assert kept.proc.poll() is not None
    fired = ResumeDeadman(sock, 0.5)
    try:
        assert wait_until(lambda: run_state(sock) == "running", 10.0, 0.1)
    finally:
        fired.disarm()
    qmp(sock, "stop")
    assert run_state(sock) == "paused"  # the disarmed one did not wake up later


def test_a_second_client_holding_the_monitor_makes_the_state_unknown_not_off(machine: tuple[Host, Path]) -> None:
    """QEMU's monitor serves one client at a time: while another holds it, asking times out as "unknown" (a
    machine taken for off would be started a second time on its disk)."""
    import socket as sockets

    from pulltheplug.ssh.qmp import run_state

    host, _ = machine
    assert isinstance(host.power, QemuPower)
    run_power(host, "on")
    with sockets.socket(sockets.AF_UNIX) as other:
        other.connect(str(host.power.qmp))
        assert run_state(host.power.qmp, timeout=1.0) == "unknown"
    assert run_state(host.power.qmp) in ("running", "prelaunch")
