"""sshd inside lab nodes, so the SSH backend is tested against real SSH (Debian's openssh-server).

Each node gets its own sshd (entered into the node's network namespace only) with a throwaway host key,
a throwaway user key, and an inventory of those addresses. Every sshd is stopped by its pid.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from pulltheplug.lab import cgroups
from pulltheplug.lab.lab import Lab

SSHD = Path("/usr/sbin/sshd")


@dataclass
class SshdLab:
    """What a test needs: the inventory file, the known_hosts of every node, the user key, the sshd pids."""

    folder: Path
    inventory: Path
    known_hosts: Path
    user_key: Path
    pids: dict[str, int]
    addresses: dict[str, str]

    def stop(self) -> None:
        for pid in self.pids.values():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
        for pid in self.pids.values():
            _reap(pid)
        self.pids.clear()


def keygen(path: Path, comment: str) -> None:
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
                   check=True, capture_output=True)


def lab_freezer(cgroup: str) -> dict[str, str]:
    """A lab node's freeze and thaw: its own cgroup (the host's docker cgroups are not the node's)."""
    if cgroups.is_v2():
        return {"freeze": f"echo 1 > /sys/fs/cgroup/{cgroup}/cgroup.freeze",
                "thaw": f"echo 0 > /sys/fs/cgroup/{cgroup}/cgroup.freeze"}
    return {"freeze": f"echo FROZEN > /sys/fs/cgroup/freezer/{cgroup}/freezer.state",
            "thaw": f"echo THAWED > /sys/fs/cgroup/freezer/{cgroup}/freezer.state"}


def start(lab: Lab, folder: Path, node_faults: bool = True) -> SshdLab:
    """One sshd per lab node on NODE_IP:22; an inventory (with the lab's own freeze commands) and known_hosts."""
    if not SSHD.exists():
        raise RuntimeError(f"{SSHD} is missing: apt-get install openssh-server (scripts/install does)")
    Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privilege separation folder
    folder.mkdir(parents=True, exist_ok=True)
    user_key = folder / "id_user"
    keygen(user_key, "pulltheplug-test-user")
    known_lines, hosts, pids, addresses = [], {}, {}, {}
    try:
        for node in lab.plan.nodes:
            node_dir = folder / node.name
            node_dir.mkdir()
            host_key = node_dir / "host_key"
            keygen(host_key, node.name)
            config = node_dir / "sshd_config"
            config.write_text(
                f"ListenAddress {node.address}:22\nHostKey {host_key}\nPidFile {node_dir / 'sshd.pid'}\n"
                f"AuthorizedKeysFile {user_key}.pub\nPermitRootLogin prohibit-password\nUsePAM no\n"
                "StrictModes no\nPasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                "AllowStreamLocalForwarding yes\nClientAliveInterval 0\n")
            proc = subprocess.Popen(["nsenter", f"--net=/var/run/netns/{node.netns}", str(SSHD), "-D",
                                     "-f", str(config), "-E", str(node_dir / "sshd.log")],
                                    stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            pids[node.name] = proc.pid  # nsenter execs sshd: the same process
            addresses[node.name] = node.address
            public = (host_key.with_suffix(".pub")).read_text().split()
            known_lines.append(f"{node.address} {public[0]} {public[1]}\n")
            hosts[node.name] = {"address": node.address, "key": str(user_key), "docker_socket": node.socket,
                                "faults": lab_freezer(node.cgroup) if node_faults else {}}
        for name, address in addresses.items():
            _wait_listening(address, pids[name])
    except BaseException:
        SshdLab(folder, folder, folder, user_key, pids, addresses).stop()
        raise
    inventory = folder / "hosts.yaml"
    inventory.write_text(yaml.safe_dump({"hosts": hosts}))
    known_hosts = folder / "known_hosts"
    known_hosts.write_text("".join(known_lines))
    return SshdLab(folder, inventory, known_hosts, user_key, pids, addresses)


def _wait_listening(address: str, pid: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((address, 22), timeout=0.5):
            return
        if _exited(pid):
            raise RuntimeError(f"sshd for {address} exited: see its sshd.log")
        time.sleep(0.05)
    raise RuntimeError(f"sshd for {address} is not listening after {timeout} s")


def _exited(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        return done == pid
    return True


def _reap(pid: int, timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _exited(pid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, 0)
