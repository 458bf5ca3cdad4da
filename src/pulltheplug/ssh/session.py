"""SSH sessions to the hosts of an inventory, usable from the rest of pulltheplug, which is sync and threaded.

asyncssh is async; docker-py and the observer are threads. So one asyncio loop runs in a background thread
owned by `Sessions`, and every sync call submits a coroutine to it. One connection per host, opened on
first use and reused; reopened on the next use after it was lost (a nic-down cuts it on purpose).

Host keys are checked against a known_hosts file and never accepted here (`cluster trust` records them).
Keepalives every second, three unanswered = the link is dead: a cut host is noticed in about 3 s.
Errors are one line naming the host and what to do; commands and keys never appear in them.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import ipaddress
import logging
import shlex
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, NamedTuple, TypeVar

import asyncssh
import docker

from pulltheplug.ssh.choices import DEFAULT_KNOWN_HOSTS
from pulltheplug.ssh.errors import (
    AuthFailedError,
    CommandTimeoutError,
    ConnectionLostError,
    ForwardError,
    HostKeyChangedError,
    HostUnreachableError,
    SshError,
    UnknownHostKeyError,
)
from pulltheplug.ssh.inventory import Host, Inventory

log = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class SshOptions:
    """Measured choices: 1 s keepalives x 3 notice a dead link in ~3 s (sshd inside a lab node: 2.8 s at x2)."""

    known_hosts: Path = DEFAULT_KNOWN_HOSTS
    connect_timeout: float = 10.0  # TCP, key exchange and login together
    keepalive_interval: float = 1.0
    keepalive_count_max: int = 3

    @property
    def known_hosts_path(self) -> Path:
        return self.known_hosts.expanduser()


class CommandResult(NamedTuple):
    exit: int
    stdout: str
    stderr: str


def trust_hint(inventory_source: str) -> str:
    return f"run `pulltheplug cluster trust {inventory_source}`"


def known_hosts_pattern(host: Host) -> str:
    """How known_hosts names a host: `addr`, or `[addr]:port` off port 22 (as OpenSSH writes it)."""
    return host.address if host.port == 22 else f"[{host.address}]:{host.port}"


def known_keys(path: Path, host: Host) -> list[asyncssh.SSHKey]:
    """The keys known_hosts holds for this host (empty when the file or the host is missing)."""
    if not path.exists():
        return []
    try:
        ip = str(ipaddress.ip_address(host.address))
    except ValueError:
        ip = ""
    return list(asyncssh.read_known_hosts(str(path)).match(host.address, ip, host.port)[0])


class LoopThread:
    """One asyncio loop in a daemon thread; sync callers submit coroutines and wait with a timeout."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="pulltheplug-ssh", daemon=True)
        self._thread.start()

    def call(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        future = asyncio.run_coroutine_threadsafe(coro, self.loop)
        try:
            return future.result(timeout)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise

    def close(self) -> None:
        if self.loop.is_closed():
            return
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self.loop.close()


LinkListener = Callable[[str, str, str], None]  # (host, "lost" | "back", reason)


class _Client(asyncssh.SSHClient):
    """Tells its `HostSession` when the connection dies under it (keepalives unanswered, reset...)."""

    def __init__(self, session: HostSession) -> None:
        self._session = session

    def connection_lost(self, exc: Exception | None) -> None:
        if exc is not None:  # None: closed by us
            self._session.link_lost(_reason(exc))


class HostSession:
    """One host's connection (reused) and its forwarded Docker socket."""

    def __init__(self, host: Host, sessions: Sessions) -> None:
        self.host = host
        self._sessions = sessions
        self._conn: asyncssh.SSHClientConnection | None = None
        self._forward: asyncssh.SSHListener | None = None
        self._forward_conn: asyncssh.SSHClientConnection | None = None
        self._lock: asyncio.Lock | None = None  # made inside the loop
        self._lost = False  # the last connection died under us: the next one that opens is "back"
        self._reconnecting: concurrent.futures.Future[asyncssh.SSHClientConnection] | None = None

    @property
    def name(self) -> str:
        return self.host.name

    @property
    def lost(self) -> bool:
        """The last connection died under us and none has opened since."""
        return self._lost

    def reconnect_in_background(self) -> None:
        """Try to open the connection again without waiting for it (a door's watcher must not wait out a
        connect timeout at every poll of a host without power); one try at a time."""
        if self._reconnecting is not None and not self._reconnecting.done():
            return
        self._reconnecting = asyncio.run_coroutine_threadsafe(self._connection(), self._sessions.loop.loop)
        self._reconnecting.add_done_callback(_quietly)

    def connect(self) -> None:
        """Open (or confirm) the connection: raises the one-line error for keys, login or reachability."""
        self._call(self._connection(), self._sessions.options.connect_timeout + 2)

    def run(self, command: str, timeout: float, as_root: bool = True) -> CommandResult:
        """Run a shell command (as root: through `sudo -n` when the host says so): exit status, stdout, stderr."""
        return self._call(self._run(command, timeout, as_root),
                          self._sessions.options.connect_timeout + timeout + 2)

    def clock_offset(self, samples: int = 3, timeout: float = 5.0) -> tuple[float, float]:
        """Host clock minus ours and the round trip it was read over (the shortest of `samples`, as NTP does).

        Read on one open shell: a command per sample would count channel setup into the round trip.
        """
        return self._call(self._clock_offset(max(1, samples)), self._sessions.options.connect_timeout + timeout)

    def docker_client(self, timeout: float = 5.0) -> docker.DockerClient:
        """docker-py on a local unix socket forwarded to the host's Docker socket (no docker CLI).

        The local socket lives in a folder only this user can enter (mkdtemp, 0700): it is root on the host.
        """
        path = self._call(self._forwarded_socket(), self._sessions.options.connect_timeout + 5)
        return docker.DockerClient(base_url=f"unix://{path}", timeout=int(max(1, timeout)))

    def close(self) -> None:
        self._call(self._close(), 5)

    def _call(self, coro: Coroutine[Any, Any, T], timeout: float) -> T:
        try:
            return self._sessions.loop.call(coro, timeout)
        except concurrent.futures.TimeoutError:
            raise CommandTimeoutError(f"{self.name}: no answer within {timeout:g} s") from None

    async def _connection(self) -> asyncssh.SSHClientConnection:
        if self._lock is None:
            self._lock = asyncio.Lock()
        async with self._lock:
            if self._conn is None or self._conn.is_closed():
                self._conn = await self._open()
                if self._lost:
                    self._lost = False
                    self._sessions.tell(self.name, "back", "reconnected")
            return self._conn

    def link_lost(self, reason: str) -> None:
        self._lost = True
        self._sessions.tell(self.name, "lost", reason)

    async def _open(self) -> asyncssh.SSHClientConnection:
        host, options = self.host, self._sessions.options
        known = options.known_hosts_path
        hint = trust_hint(self._sessions.inventory.source)
        if not known.exists():
            raise UnknownHostKeyError(f"{host.name}: no known_hosts file {known}: {hint}")
        keys: Any = ()
        if host.key is not None:
            try:
                keys = [asyncssh.read_private_key(str(host.key))]
            except (OSError, asyncssh.KeyImportError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else "not a private key (or it has a passphrase)"
                raise AuthFailedError(f"{host.name}: cannot read key {host.key}: {reason}") from None
        try:
            return await asyncssh.connect(
                host.address, host.port, username=host.user, client_keys=keys,
                agent_path=None if host.key is not None else (), known_hosts=str(known), config=[],
                connect_timeout=options.connect_timeout, keepalive_interval=options.keepalive_interval,
                keepalive_count_max=options.keepalive_count_max, client_factory=lambda: _Client(self))
        except asyncssh.HostKeyNotVerifiable:
            if known_keys(known, host):
                raise HostKeyChangedError(
                    f"{host.name}: host key changed for {known_hosts_pattern(host)} (reinstalled, or someone in "
                    f"the middle): check it, then remove its line from {known} and {hint}") from None
            raise UnknownHostKeyError(f"{host.name}: unknown host key for {known_hosts_pattern(host)}: "
                                      f"{hint}") from None
        except asyncssh.PermissionDenied:
            raise AuthFailedError(f"{host.name}: login refused for user {host.user}: check user/key "
                                  "(and that the key is in the host's authorized_keys)") from None
        except (TimeoutError, OSError, asyncssh.Error) as exc:
            raise HostUnreachableError(f"{host.name}: cannot reach {host.address}:{host.port} "
                                       f"({_reason(exc)}): check the address, the port and that sshd runs") from None

    async def _run(self, command: str, timeout: float, as_root: bool) -> CommandResult:
        conn = await self._connection()
        wrapped = f"sudo -n sh -c {shlex.quote(command)}" if self.host.sudo and as_root else command
        try:
            done = await conn.run(wrapped, check=False, timeout=timeout)
        except asyncssh.TimeoutError:
            raise CommandTimeoutError(f"{self.name}: a command ran longer than {timeout:g} s") from None
        except asyncssh.ChannelOpenError as exc:
            if not conn.is_closed():  # sshd refused a channel on a live connection (MaxSessions...): not a loss
                raise SshError(f"{self.name}: sshd refused to run the command ({exc.reason})") from None
            # the connection closed as the channel was being opened (a host whose power was just cut)
            raise ConnectionLostError(f"{self.name}: the SSH connection was lost ({_reason(exc)})") from None
        except (asyncssh.ConnectionLost, asyncssh.DisconnectError, OSError) as exc:
            raise ConnectionLostError(f"{self.name}: the SSH connection was lost ({_reason(exc)})") from None
        if done.returncode is None:  # no exit status and no signal: the channel died with the connection
            raise ConnectionLostError(f"{self.name}: the SSH connection was lost (no exit status came back)")
        return CommandResult(done.returncode, _text(done.stdout), _text(done.stderr))

    async def _clock_offset(self, samples: int) -> tuple[float, float]:
        conn = await self._connection()
        best: tuple[float, float] | None = None
        async with conn.create_process("sh") as proc:
            for _ in range(samples):
                sent = time.time()
                proc.stdin.write("date +%s.%N\n")
                line = await proc.stdout.readline()
                back = time.time()
                try:
                    remote = float(_text(line).strip())
                except ValueError:
                    raise SshError(f"{self.name}: `date +%s.%N` gave no time") from None
                if best is None or back - sent < best[1]:
                    best = (remote - (sent + back) / 2, back - sent)
            proc.stdin.write_eof()
        assert best is not None
        return best

    async def _forwarded_socket(self) -> str:
        conn = await self._connection()
        path = self._sessions.socket_dir / f"{self.name}.sock"
        if self._forward is not None and self._forward_conn is conn:
            return str(path)
        if self._forward is not None:
            self._forward.close()
        path.unlink(missing_ok=True)
        try:
            self._forward = await conn.forward_local_path(str(path), self.host.docker_socket)
        except (OSError, asyncssh.Error) as exc:
            raise ForwardError(f"{self.name}: cannot forward {self.host.docker_socket} ({_reason(exc)}): "
                               "check docker_socket and that sshd allows stream-local forwarding") from None
        self._forward_conn = conn
        return str(path)

    async def _close(self) -> None:
        if self._forward is not None:
            self._forward.close()
            self._forward = None
        if self._conn is not None:
            self._conn.close()
            with contextlib.suppress(asyncssh.Error, OSError):
                await self._conn.wait_closed()
            self._conn = None


class Sessions:
    """Every host's session over one background loop; a context manager that closes them all."""

    def __init__(self, inventory: Inventory, options: SshOptions | None = None) -> None:
        self.inventory = inventory
        self.options = options or SshOptions()
        self.loop = LoopThread()
        self._socket_dir: Path | None = None
        self._hosts = {h.name: HostSession(h, self) for h in inventory.hosts}
        self.listener: LinkListener | None = None  # told when a connection dies and when it is back

    def tell(self, host: str, state: str, reason: str) -> None:
        log.info("%s: SSH session %s (%s)", host, state, reason)
        listener = self.listener
        if listener is not None:
            listener(host, state, reason)

    def __getitem__(self, name: str) -> HostSession:
        if name not in self._hosts:
            self.inventory.host(name)  # raises the one-line "no host" error
        return self._hosts[name]

    def __iter__(self) -> Iterator[HostSession]:
        return iter(self._hosts.values())

    def close(self) -> None:
        for session in self._hosts.values():
            with contextlib.suppress(SshError):
                session.close()
        self.loop.close()
        if self._socket_dir is not None:
            shutil.rmtree(self._socket_dir, ignore_errors=True)

    @property
    def socket_dir(self) -> Path:
        """Made on first Docker use only, so a controller killed before that leaves no folder behind."""
        if self._socket_dir is None:
            self._socket_dir = Path(tempfile.mkdtemp(prefix="pulltheplug-ssh-"))
        return self._socket_dir

    def __enter__(self) -> Sessions:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.close()


def _text(data: str | bytes | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def _quietly(done: concurrent.futures.Future[asyncssh.SSHClientConnection]) -> None:
    """A background reconnection's outcome: looked at (so nothing is logged as never retrieved), then left."""
    if not done.cancelled() and (exc := done.exception()) is not None:
        log.debug("reconnecting failed: %s", exc)


def _reason(exc: BaseException) -> str:
    """A short cause without payload: the exception's class, or OSError's strerror."""
    if isinstance(exc, OSError) and exc.strerror:
        return exc.strerror.lower()
    if isinstance(exc, asyncssh.DisconnectError) and exc.reason:
        return exc.reason.splitlines()[0][:120]
    if isinstance(exc, TimeoutError):
        return "timed out"
    return type(exc).__name__
