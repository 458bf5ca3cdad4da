"""Node actions on one host over SSH, each returning evidence: what an `SshCluster` calls for its faults.

The dead-man is always armed on the node before the fault (see `deadman`). A nic-down on the interface SSH
itself uses cuts the session: that loss is the expected confirmation, not an error. When SSH runs over
another interface (a management network), the command simply returns 0.
"""

from __future__ import annotations

import json
import shlex
import time
from dataclasses import dataclass

from pulltheplug.errors import FaultError
from pulltheplug.ssh import deadman
from pulltheplug.ssh.errors import ConnectionLostError
from pulltheplug.ssh.inventory import FaultAction
from pulltheplug.ssh.session import HostSession


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionEvidence:
    """What the controller saw: the command's exit (None when the session died with the link)."""

    host: str
    action: str
    exit: int | None
    session_lost: bool
    detail: str
    took: float  # seconds, on the controller's monotonic clock


def nic_down(session: HostSession, iface: str, seconds: float, timer: deadman.Timer,
             timeout: float = 15.0) -> ActionEvidence:
    """Take the link down with its link-up armed for `seconds`; the session may die with it."""
    return _inject(session, "nic-down", deadman.nic_down(session.host, iface, seconds, timer), timeout)


def nic_up(session: HostSession, iface: str, timer: deadman.Timer, timeout: float = 10.0) -> ActionEvidence:
    """The controller's own revert, then the dead-man cancelled.

    Reaches the host only when SSH runs over another interface; when the faulted link carries SSH, the
    dead-man IS the revert: wait for it (reconnect, `link_is_up`), then call this to heal idempotently.
    """
    command = f"{deadman.nic_up(session.host, iface)} && {deadman.disarm('nic-up', session.name, timer)}"
    return _revert(session, "nic-up", command, timeout)


def freeze(session: HostSession, seconds: float, timer: deadman.Timer, timeout: float = 15.0) -> ActionEvidence:
    return _inject(session, "freeze", deadman.freeze(session.host, seconds, timer), timeout)


def thaw(session: HostSession, timer: deadman.Timer, timeout: float = 10.0) -> ActionEvidence:
    command = f"{deadman.thaw(session.host)} && {deadman.disarm('thaw', session.name, timer)}"
    return _revert(session, "thaw", command, timeout)


def arm(session: HostSession, revert_action: FaultAction, revert: str, seconds: float, timer: deadman.Timer,
        timeout: float = 15.0, from_cut: bool = False) -> ActionEvidence:
    """The revert armed on the host, before the fault's clock starts (so the fault starts when it is sent)."""
    command = deadman.arm(revert, revert_action, session.name, seconds, timer, from_cut)
    evidence = _inject(session, f"arm {revert_action}", command, timeout)
    if evidence.session_lost:
        raise FaultError(f"{session.name}: the SSH session died while arming {revert_action}: nothing injected")
    return evidence


def inject(session: HostSession, action: str, command: str, timeout: float = 15.0) -> ActionEvidence:
    """A fault whose revert `arm` armed first; the session may die with it (a nic-down)."""
    return _inject(session, action, command, timeout)


def link_is_up(session: HostSession, iface: str, timeout: float = 5.0) -> bool:
    """Whether the host says the link is administratively up (`ip -j link show`)."""
    result = session.run(f"ip -j link show {shlex.quote(iface)}", timeout, as_root=False)
    try:
        links = json.loads(result.stdout or "[]")
    except json.JSONDecodeError:
        return False
    return result.exit == 0 and bool(links) and "UP" in links[0].get("flags", [])


def _inject(session: HostSession, action: str, command: str, timeout: float) -> ActionEvidence:
    started = time.monotonic()
    try:
        result = session.run(command, timeout)
    except ConnectionLostError:
        return ActionEvidence(host=session.name, action=action, exit=None, session_lost=True,
                              detail="the SSH session died with the fault (expected)", took=time.monotonic() - started)
    took = time.monotonic() - started
    if result.exit == deadman.NOT_ARMED:
        raise FaultError(f"{session.name}: {action} not injected: the dead-man revert could not be armed "
                         "(check `pulltheplug cluster check`)")
    if result.exit != 0:
        last = result.stderr.strip().splitlines()[-1:] or [f"exit {result.exit}"]
        raise FaultError(f"{session.name}: {action} failed: {last[0][:160]} (the dead-man revert is armed)")
    return ActionEvidence(host=session.name, action=action, exit=0, session_lost=False, detail="done", took=took)


def _revert(session: HostSession, action: str, command: str, timeout: float) -> ActionEvidence:
    started = time.monotonic()
    result = session.run(command, timeout)
    if result.exit != 0:
        last = result.stderr.strip().splitlines()[-1:] or [f"exit {result.exit}"]
        raise FaultError(f"{session.name}: {action} failed: {last[0][:160]} (the dead-man revert stays armed)")
    return ActionEvidence(host=session.name, action=action, exit=0, session_lost=False, detail="done",
                          took=time.monotonic() - started)


def revert(session: HostSession, action: str, command: str, timeout: float = 15.0) -> ActionEvidence:
    """A revert the controller runs itself (its command also disarms the dead-man); FaultError if it failed."""
    return _revert(session, action, command, timeout)


def machine_fault(session: HostSession, action: str, command: str, timeout: float = 15.0) -> ActionEvidence:
    """A reboot or crash, built behind the boot_id guard (`deadman.reboot`, `deadman.crash`): the session dies."""
    return _inject(session, action, command, timeout)
