"""Sessions against an asyncssh server on loopback: host keys never auto-accepted, sudo, one-line errors."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncssh
import pytest

from pulltheplug.ssh.errors import (
    AuthFailedError,
    HostKeyChangedError,
    HostUnreachableError,
    UnknownHostKeyError,
)
from pulltheplug.ssh.inventory import Host, Inventory
from pulltheplug.ssh.session import LoopThread, Sessions, SshOptions
from pulltheplug.ssh.trust import trust


@dataclass
class Server:
    port: int
    host_key: asyncssh.SSHKey
    user_key: Path
    folder: Path

    def host(self, **update: object) -> Host:
        return Host(name="loop", address="127.0.0.1", port=self.port, key=self.user_key).model_copy(update=update)

    def inventory(self, **update: object) -> Inventory:
        return Inventory(hosts=(self.host(**update),), source="hosts.yaml")


SKEW = 5.0  # the server's "clock" runs this far ahead


async def echo_command(process: asyncssh.SSHServerProcess[str]) -> None:
    """Answers what it was asked to run (`exit N` exits N); a shell answers each line with a skewed time."""
    if process.command in (None, "sh"):
        async for _ in process.stdin:
            process.stdout.write(f"{time.time() + SKEW:.6f}\n")
        process.exit(0)
        return
    command = process.command
    process.stdout.write(command)
    process.exit(int(command.split()[1]) if command.startswith("exit ") else 0)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    folder = tmp_path_factory.mktemp("sshserver")
    host_key = asyncssh.generate_private_key("ssh-ed25519")
    user_key = asyncssh.generate_private_key("ssh-ed25519")
    (folder / "id_user").write_bytes(user_key.export_private_key())
    loop = LoopThread()

    async def listen() -> asyncssh.SSHAcceptor:
        return await asyncssh.listen("127.0.0.1", 0, server_host_keys=[host_key],
                                     authorized_client_keys=asyncssh.import_authorized_keys(
                                         user_key.export_public_key().decode()),
                                     process_factory=echo_command, encoding="utf-8")

    acceptor = loop.call(listen(), 10)
    try:
        yield Server(acceptor.sockets[0].getsockname()[1], host_key, folder / "id_user", folder)
    finally:
        acceptor.close()
        loop.close()


def known_hosts_with(path: Path, port: int, key: asyncssh.SSHKey) -> Path:
    path.write_text(f"[127.0.0.1]:{port} {key.export_public_key().decode()}")
    return path


def test_commands_run_on_one_reused_connection_and_sudo_wraps_them(server: Server, tmp_path: Path) -> None:
    known = known_hosts_with(tmp_path / "kh", server.port, server.host_key)
    with Sessions(server.inventory(), SshOptions(known_hosts=known)) as sessions:
        loop = sessions["loop"]
        assert loop.run("exit 3", 5) == (3, "exit 3", "")
        first = loop._conn
        assert loop.run("id -u", 5).stdout == "id -u"
        assert loop._conn is first  # reused
    with Sessions(server.inventory(sudo=True), SshOptions(known_hosts=known)) as sessions:
        assert sessions["loop"].run("ip link set 'eth0' down", 5).stdout == (
            "sudo -n sh -c 'ip link set '\"'\"'eth0'\"'\"' down'")
        assert sessions["loop"].run("date", 5, as_root=False).stdout == "date"


def test_clock_offset_is_read_on_one_shell(server: Server, tmp_path: Path) -> None:
    known = known_hosts_with(tmp_path / "kh", server.port, server.host_key)
    with Sessions(server.inventory(), SshOptions(known_hosts=known)) as sessions:
        offset, round_trip = sessions["loop"].clock_offset(samples=3)
    assert abs(offset - SKEW) < round_trip / 2 + 0.001 and round_trip < 0.5


def test_no_known_hosts_file_says_to_run_trust(server: Server, tmp_path: Path) -> None:
    with Sessions(server.inventory(), SshOptions(known_hosts=tmp_path / "none")) as sessions, \
            pytest.raises(UnknownHostKeyError, match=r"no known_hosts file .*none: run `pulltheplug cluster trust "
                                                     r"hosts\.yaml`"):
        sessions["loop"].connect()


def test_unknown_and_changed_host_keys_are_refused(server: Server, tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.write_text("")
    with Sessions(server.inventory(), SshOptions(known_hosts=empty)) as sessions, \
            pytest.raises(UnknownHostKeyError, match=rf"^loop: unknown host key for \[127\.0\.0\.1\]:{server.port}"):
        sessions["loop"].connect()
    other = known_hosts_with(tmp_path / "other", server.port, asyncssh.generate_private_key("ssh-ed25519"))
    with Sessions(server.inventory(), SshOptions(known_hosts=other)) as sessions, \
            pytest.raises(HostKeyChangedError, match=r"^loop: host key changed"):
        sessions["loop"].connect()


def test_trust_then_connect(server: Server, tmp_path: Path) -> None:
    known = tmp_path / "dir" / "known_hosts"
    [result] = trust(server.inventory(), known)
    assert result.status == "added" and result.fingerprint == server.host_key.get_fingerprint("sha256")
    assert known.read_text() == f"[127.0.0.1]:{server.port} " + " ".join(
        server.host_key.export_public_key().decode().split()[:2]) + "\n"
    with Sessions(server.inventory(), SshOptions(known_hosts=known)) as sessions:
        assert sessions["loop"].run("exit 0", 5).exit == 0


def test_a_key_the_host_does_not_accept(server: Server, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong"
    wrong.write_bytes(asyncssh.generate_private_key("ssh-ed25519").export_private_key())
    known = known_hosts_with(tmp_path / "kh", server.port, server.host_key)
    with Sessions(server.inventory(key=wrong), SshOptions(known_hosts=known)) as sessions, \
            pytest.raises(AuthFailedError, match=r"^loop: login refused for user root: check user/key"):
        sessions["loop"].connect()
    with Sessions(server.inventory(key=tmp_path / "absent"), SshOptions(known_hosts=known)) as sessions, \
            pytest.raises(AuthFailedError, match=r"cannot read key .*absent"):
        sessions["loop"].connect()


def test_a_closed_port_is_unreachable_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # bound, never listening: refused
        known = tmp_path / "kh"
        known.write_text("")
        inv = Inventory(hosts=(Host(name="gone", address="127.0.0.1", port=port),), source="hosts.yaml")
        with Sessions(inv, SshOptions(known_hosts=known, connect_timeout=2)) as sessions, \
                pytest.raises(HostUnreachableError, match=f"^gone: cannot reach 127.0.0.1:{port} "):
            sessions["gone"].connect()
    [result] = trust(inv, known, timeout=2)
    assert result.status == "unreachable" and known.read_text() == ""
