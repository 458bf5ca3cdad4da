"""Node actions judge what the host answered: a session lost with the link is the expected confirmation."""

from __future__ import annotations

from dataclasses import dataclass, field

import pytest

from pulltheplug.errors import FaultError
from pulltheplug.ssh import node_actions
from pulltheplug.ssh.errors import ConnectionLostError
from pulltheplug.ssh.inventory import Host
from pulltheplug.ssh.session import CommandResult, HostSession


@dataclass
class FakeSession:
    """Stands in for a HostSession: answers each command with the next scripted result."""

    answers: list[CommandResult | Exception]
    host: Host = field(default_factory=lambda: Host(name="pi1", address="192.168.1.21"))
    commands: list[str] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.host.name

    def run(self, command: str, timeout: float, as_root: bool = True) -> CommandResult:
        self.commands.append(command)
        answer = self.answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer


def session(*answers: CommandResult | Exception) -> HostSession:
    return FakeSession(list(answers))  # type: ignore[return-value]


def test_nic_down_that_cuts_the_session_is_confirmed_not_an_error() -> None:
    fake = session(ConnectionLostError("pi1: the SSH connection was lost"))
    evidence = node_actions.nic_down(fake, "eth0", 20, "setsid")
    assert evidence.session_lost and evidence.exit is None and evidence.action == "nic-down"
    assert fake.commands[0].endswith("ip link set eth0 down")  # type: ignore[attr-defined]


def test_nic_down_over_another_interface_returns_normally() -> None:
    evidence = node_actions.nic_down(session(CommandResult(0, "", "")), "wlan0", 20, "systemd-run")
    assert not evidence.session_lost and evidence.exit == 0


def test_a_dead_man_that_could_not_be_armed_means_nothing_injected() -> None:
    with pytest.raises(FaultError, match=r"^pi1: freeze not injected: the dead-man revert could not be armed"):
        node_actions.freeze(session(CommandResult(97, "", "")), 20, "setsid")


def test_a_failed_injection_says_the_dead_man_is_armed() -> None:
    with pytest.raises(FaultError, match=r"^pi1: nic-down failed: Cannot find device .* revert is armed"):
        node_actions.nic_down(session(CommandResult(1, "", 'Cannot find device "eth9"\n')), "eth9", 5, "setsid")


def test_thaw_disarms_after_reverting() -> None:
    fake = session(CommandResult(0, "", ""))
    node_actions.thaw(fake, "systemd-run")
    assert fake.commands[0].endswith(  # type: ignore[attr-defined]
        "&& systemctl stop pulltheplug-revert-thaw-pi1.timer pulltheplug-revert-thaw-pi1.service 2>/dev/null; true")


def test_link_state_is_read_from_ip_json() -> None:
    up = '[{"ifname": "eth0", "flags": ["BROADCAST", "MULTICAST", "UP", "LOWER_UP"]}]'
    down = '[{"ifname": "eth0", "flags": ["BROADCAST", "MULTICAST"]}]'
    assert node_actions.link_is_up(session(CommandResult(0, up, "")), "eth0")
    assert not node_actions.link_is_up(session(CommandResult(0, down, "")), "eth0")
    assert not node_actions.link_is_up(session(CommandResult(1, "", "Device does not exist")), "eth9")


def test_a_reboot_counts_only_when_the_host_comes_back_with_another_boot_id() -> None:
    from pulltheplug.ssh.cluster import restarted

    assert restarted("pi2", "aaaa", "bbbb", 41.23456) == {"boot_id_changed": True, "back_after": 41.235}
    for after in ("aaaa", ""):
        with pytest.raises(FaultError, match="pi2: answered again with the same boot_id: it never restarted"):
            restarted("pi2", "aaaa", after, 3.0)
