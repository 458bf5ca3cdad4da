"""`cluster trust`: record each host's SSH key in our known_hosts, the one explicit step that accepts keys.

Like `ssh -o StrictHostKeyChecking=accept-new`: a host not yet in the file is added; a host already there
with the same key is left alone; a host already there with a DIFFERENT key is refused, never overwritten
(a reinstall, or someone in the middle: a person decides). Only the key exchange runs: no login.
"""

from __future__ import annotations

import asyncio
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import asyncssh

from pulltheplug.ssh.inventory import Host, Inventory
from pulltheplug.ssh.session import known_hosts_pattern, known_keys

TrustStatus = Literal["added", "known", "changed", "unreachable"]


@dataclass(frozen=True, slots=True, kw_only=True)
class TrustResult:
    host: str
    pattern: str  # how known_hosts names it
    status: TrustStatus
    fingerprint: str = ""  # SHA256 of the key the host offered
    key_type: str = ""
    detail: str = ""

    @property
    def ok(self) -> bool:
        return self.status in ("added", "known")


def trust(inventory: Inventory, known_hosts: Path, timeout: float = 10.0) -> list[TrustResult]:
    """Fetch every host's key at once, then record the new ones; one result per host, in inventory order."""
    path = known_hosts.expanduser()
    offered = asyncio.run(_fetch_all(inventory, path, timeout))
    return [_record(host, key_or_error, path) for host, key_or_error in zip(inventory.hosts, offered, strict=True)]


async def _fetch_all(inventory: Inventory, path: Path, timeout: float) -> list[asyncssh.SSHKey | str]:
    return list(await asyncio.gather(*(_fetch(host, path, timeout) for host in inventory.hosts)))


async def _fetch(host: Host, path: Path, timeout: float) -> asyncssh.SSHKey | str:
    """The key the host offers (of a type already recorded, if any): the key, or why it could not be had."""
    known = known_keys(path, host)
    algs = [alg.decode() for key in known for alg in key.sig_algorithms] or ()
    try:
        key = await asyncio.wait_for(
            asyncssh.get_server_host_key(host.address, host.port, server_host_key_algs=algs, config=[]), timeout)
    except TimeoutError:
        return f"no answer within {timeout:g} s"
    except (OSError, asyncssh.Error) as exc:
        return exc.strerror.lower() if isinstance(exc, OSError) and exc.strerror else type(exc).__name__
    if key is None:
        return "the host offered no host key"
    return key


def _record(host: Host, key_or_error: asyncssh.SSHKey | str, path: Path) -> TrustResult:
    pattern = known_hosts_pattern(host)
    if isinstance(key_or_error, str):
        return TrustResult(host=host.name, pattern=pattern, status="unreachable",
                           detail=f"cannot reach {host.address}:{host.port} ({key_or_error})")
    key = key_or_error
    line = " ".join(key.export_public_key("openssh").decode().split()[:2])
    result = {"host": host.name, "pattern": pattern, "fingerprint": key.get_fingerprint("sha256"),
              "key_type": key.get_algorithm()}
    known = known_keys(path, host)
    if any(k.public_data == key.public_data for k in known):
        return TrustResult(**result, status="known", detail="already in known_hosts")
    if known:
        return TrustResult(**result, status="changed",
                           detail=f"known_hosts holds another key for {pattern}: refused, not overwritten; "
                                  f"if the host was reinstalled, remove its line from {path} and trust again")
    _append(path, f"{pattern} {line}\n")
    return TrustResult(**result, status="added", detail=f"recorded in {path}")


def _append(path: Path, line: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with os.fdopen(fd, "a") as out:
        out.write(line)
