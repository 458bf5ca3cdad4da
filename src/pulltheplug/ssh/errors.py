"""What can go wrong reaching a host over SSH: each error names the host and what to do, in one line.

Messages never carry keys, join tokens or a command's text (a command may hold a token).
"""

from __future__ import annotations

from pulltheplug.errors import ClusterError, FaultError


class SshError(ClusterError):
    """A host cannot be used over SSH."""


class UnknownHostKeyError(SshError):
    """The host's key is not in known_hosts: never accepted silently."""


class HostKeyChangedError(SshError):
    """known_hosts holds another key for this host: a reinstall, or someone in the middle."""


class AuthFailedError(SshError):
    """The host refused the user and key."""


class HostUnreachableError(SshError):
    """No answer within the timeout, refused, or the link died (keepalives unanswered)."""


class ConnectionLostError(HostUnreachableError):
    """An open connection died (keepalives unanswered): expected when a nic-down cuts the host's own link."""


class CommandTimeoutError(SshError):
    """A remote command ran longer than allowed."""


class ForwardError(SshError):
    """The host's Docker socket could not be forwarded."""


class MachineFaultRefusedError(FaultError):
    """A machine-level fault (reboot, crash, power) would hit the machine the controller runs on."""
