"""Dead-man commands: the revert is armed on the node, and checked running, before the fault goes in."""

from __future__ import annotations

import pytest

from pulltheplug.ssh import deadman
from pulltheplug.ssh.errors import MachineFaultRefusedError
from pulltheplug.ssh.inventory import Host

PI = Host(name="pi1", address="192.168.1.21")
PID = "/run/pulltheplug-revert-nic-up-pi1.pid"


MARK = "/run/pulltheplug-cut-pi1"
WAIT_CUT = f"i=0; while [ ! -e {MARK} ] && [ $i -lt 600 ]; do sleep 0.05; i=$((i+1)); done; rm -f {MARK}; "


def test_nic_down_with_setsid_arms_the_link_up_from_the_cut_then_takes_the_link_down() -> None:
    assert deadman.nic_down(PI, "eth0", 20, "setsid") == (
        f"rm -f {PID} {MARK}; setsid sh -c 'echo $$ > {PID}; {WAIT_CUT}sleep 20; ip link set eth0 up; rm -f {PID}' "
        "</dev/null >/dev/null 2>&1 & "
        f"i=0; while [ ! -s {PID} ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; "
        f"[ -s {PID} ] || exit 97; : > {MARK}; ip link set eth0 down"
    )


def test_nic_down_with_systemd_run_injects_only_when_the_waiting_service_runs() -> None:
    assert deadman.nic_down(PI, "wlan0", 2.5, "systemd-run") == (
        f"rm -f {MARK}; systemd-run --quiet --collect --unit=pulltheplug-revert-nic-up-pi1 "
        f"/bin/sh -c '{WAIT_CUT}sleep 2.5; ip link set wlan0 up' || exit 97; : > {MARK}; ip link set wlan0 down"
    )


def test_other_dead_men_count_from_the_arming() -> None:
    assert deadman.arm("ip link set eth0 up", "nic-up", "pi1", 5, "systemd-run") == (
        "systemd-run --quiet --collect --unit=pulltheplug-revert-nic-up-pi1 --on-active=5s "
        "/bin/sh -c 'ip link set eth0 up' || exit 97")
    assert MARK not in deadman.arm("ip link set eth0 up", "nic-up", "pi1", 5, "setsid")
    assert MARK not in deadman.freeze(PI, 20, "setsid")


@pytest.mark.parametrize("timer", ["setsid", "systemd-run"])
def test_the_revert_is_armed_before_the_fault_in_every_command(timer: deadman.Timer) -> None:
    for command, revert, inject in [
        (deadman.nic_down(PI, "eth0", 20, timer), "ip link set eth0 up", "ip link set eth0 down"),
        (deadman.freeze(PI, 20, timer), deadman.thaw(PI), deadman.DEFAULTS["freeze"]),
    ]:
        armed = command.index(revert)
        check = command.index(f"exit {deadman.NOT_ARMED}")
        injected = command.rindex(inject)
        assert armed < check < injected and command.endswith(inject)


def test_freeze_writes_every_docker_cgroup_freezer_and_thaw_undoes_it() -> None:
    freeze, thaw = deadman.DEFAULTS["freeze"], deadman.thaw(PI)
    for group in ("system.slice/docker.service", "system.slice/containerd.service", "system.slice/docker-*.scope"):
        assert f"/sys/fs/cgroup/{group}" in freeze and f"/sys/fs/cgroup/freezer/{group}" in freeze
    assert 'echo 1 > "$g/cgroup.freeze"' in freeze and 'echo FROZEN > "$g/freezer.state"' in freeze
    assert 'echo 0 > "$g/cgroup.freeze"' in thaw and 'echo THAWED > "$g/freezer.state"' in thaw
    assert freeze.endswith('[ "$n" -gt 0 ]')  # fails when nothing was frozen


def test_host_overrides_replace_inject_and_revert_but_not_the_arming() -> None:
    node = Host(name="node2", address="10.213.1.3", faults={
        "freeze": "echo FROZEN > /sys/fs/cgroup/freezer/lab/node2/freezer.state",
        "thaw": "echo THAWED > /sys/fs/cgroup/freezer/lab/node2/freezer.state",
        "nic-down": "ip link set {iface} down # for {seconds}s"})
    pid = "/run/pulltheplug-revert-thaw-node2.pid"
    assert deadman.freeze(node, 8, "setsid") == (
        f"rm -f {pid}; setsid sh -c 'echo $$ > {pid}; sleep 8; "
        f"echo THAWED > /sys/fs/cgroup/freezer/lab/node2/freezer.state; rm -f {pid}' </dev/null >/dev/null 2>&1 & "
        f"i=0; while [ ! -s {pid} ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i+1)); done; "
        f"[ -s {pid} ] || exit 97; echo FROZEN > /sys/fs/cgroup/freezer/lab/node2/freezer.state"
    )
    assert deadman.nic_down(node, "eth0", 8, "systemd-run").endswith("; ip link set eth0 down # for 8s")


def test_disarm_cancels_the_dead_man_it_armed() -> None:
    assert deadman.disarm("nic-up", "pi1", "systemd-run") == (
        "systemctl stop pulltheplug-revert-nic-up-pi1.timer pulltheplug-revert-nic-up-pi1.service 2>/dev/null; true")
    assert deadman.disarm("nic-up", "pi1", "setsid") == (
        f'[ -s {PID} ] && kill "$(cat {PID})" 2>/dev/null; rm -f {PID}; true')


def test_interface_names_are_shell_quoted() -> None:
    assert deadman.nic_up(PI, "we ird") == "ip link set 'we ird' up"


def test_seconds_read_by_sleep_and_systemd() -> None:
    assert [deadman.seconds_text(s) for s in (20, 20.0, 2.5, 0.25)] == ["20", "20", "2.5", "0.25"]
    with pytest.raises(ValueError):
        deadman.seconds_text(0)


@pytest.mark.parametrize("fault", ["reboot", "crash", "power-loss"])
def test_machine_faults_are_refused_on_the_controllers_own_kernel(fault: str) -> None:
    with pytest.raises(MachineFaultRefusedError, match=f"^node1: {fault} refused: it runs on the same kernel"):
        deadman.refuse_machine_fault("abc-123\n", "abc-123", fault, "node1")
    with pytest.raises(MachineFaultRefusedError, match="boot_id is unknown"):
        deadman.refuse_machine_fault("", "abc-123", fault, "node1")
    deadman.refuse_machine_fault("def-456", "abc-123", fault, "node1")  # another machine: allowed


def test_reversible_faults_are_not_guarded_by_boot_id() -> None:
    deadman.refuse_machine_fault("same", "same", "nic-down")
    deadman.refuse_machine_fault("same", "same", "freeze")


def test_reboot_and_crash_commands_exist_only_past_the_guard() -> None:
    with pytest.raises(MachineFaultRefusedError):
        deadman.reboot(PI, "same", "same")
    with pytest.raises(MachineFaultRefusedError):
        deadman.crash(PI, "same", "same")
    assert deadman.reboot(PI, "theirs", "ours") == "systemctl reboot"
    assert deadman.crash(PI, "theirs", "ours") == "echo b > /proc/sysrq-trigger"
