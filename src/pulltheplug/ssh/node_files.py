"""Node files and node services on a host over SSH: what a door's service (keepalived for `entry: vip`) needs on
the host itself. Files live in /run (gone at a reboot, as the service is); a service is a transient systemd
unit (`systemd-run`), so it dies with the host's power, hangs when the whole machine is paused (a QEMU host's
freeze; a cgroup freeze of the engine leaves it running) and stops first on a graceful shutdown. It does not
start again at boot: a transient unit does not outlive the boot."""

from __future__ import annotations

import logging
import shlex
import time
from collections.abc import Sequence

from pulltheplug.cluster.seam import NodeSilent
from pulltheplug.errors import SpecError
from pulltheplug.ssh.errors import SshError
from pulltheplug.ssh.session import HostSession

log = logging.getLogger(__name__)

ROOT = "/run/pulltheplug"
READ_TIMEOUT = 2.0  # s for the read itself, once connected
RETRY_LOST = 10.0  # s between two tries on a host whose connection died: each costs a connect timeout


class SshFiles:
    """`NodeFiles` in /run/pulltheplug/PURPOSE on the host (0700, root's)."""

    def __init__(self, session: HostSession, purpose: str) -> None:
        self.session = session
        self.folder = f"{ROOT}/{purpose}"
        self._tried = 0.0

    def write(self, name: str, text: str, mode: int = 0o600) -> None:
        path = shlex.quote(f"{self.folder}/{name}")
        command = (f"install -d -m 700 {shlex.quote(self.folder)} && umask 077 && "
                   f"printf '%s' {shlex.quote(text)} > {path} && chmod {mode:o} {path}")
        result = self.session.run(command, 15)
        if result.exit != 0:
            raise SshError(f"{self.session.name}: cannot write {self.folder}/{name}: {result.stderr.strip()[:160]}")

    def read(self, name: str) -> str | None:
        """NodeSilent at once while the host's connection is lost (a reconnection is tried in the background,
        one every RETRY_LOST s): a host without power must not hold a door's watcher up at each poll."""
        if self.session.lost:
            now = time.monotonic()
            if now - self._tried >= RETRY_LOST:
                self._tried = now
                self.session.reconnect_in_background()
            raise NodeSilent(f"{self.session.name}: its connection is lost")
        try:
            result = self.session.run(f"cat {shlex.quote(f'{self.folder}/{name}')}", READ_TIMEOUT)
        except SshError as exc:
            raise NodeSilent(f"{self.session.name}: {self.folder}/{name} unread: {exc}") from None
        return result.stdout if result.exit == 0 else None

    def remove(self) -> None:
        try:
            self.session.run(f"rm -rf {shlex.quote(self.folder)}", 10)
        except SshError as exc:
            log.warning("%s: %s not removed: %s", self.session.name, self.folder, exc)


def unit(name: str) -> str:
    return f"pulltheplug-{name}.service"


def service(session: HostSession, name: str, argv: Sequence[str] | None) -> None:
    """Start `argv` as the transient unit pulltheplug-NAME (stopping one left before), or stop it (None)."""
    stop = f"systemctl stop {unit(name)} 2>/dev/null; systemctl reset-failed {unit(name)} 2>/dev/null; true"
    if argv is None:
        session.run(stop, 20)
        return
    tool = shlex.quote(argv[0])
    command = (f"command -v systemd-run >/dev/null || {{ echo 'no systemd-run' >&2; exit 3; }}; "
               f"command -v {tool} >/dev/null || {{ echo 'no {argv[0]}' >&2; exit 4; }}; {stop}; "
               f"systemd-run --quiet --collect --unit={unit(name)} -- {shlex.join(argv)}")
    result = session.run(command, 20)
    if result.exit in (3, 4):
        raise SpecError(f"host {session.name}: {result.stderr.strip()}: install it there "
                        f"({'systemd' if result.exit == 3 else argv[0]}) for this entry")
    if result.exit != 0:
        raise SshError(f"{session.name}: {argv[0]} did not start: {result.stderr.strip()[:160]}")
