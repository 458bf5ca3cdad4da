"""One QEMU machine of a VM lab: its seed disk, its overlay, its tap, its start script, its monitor.

A machine runs in the lab's hub namespace (where its tap is on the lab's bridge) and in the lab's cgroup (so
`lab down` ends it with everything else, by cgroup, whoever started it). `start.sh` is what starts it, first
and after every power cut: the same disk overlay, so a machine powered off keeps what it had written, as a
real disk does. QEMU daemonizes once the machine runs and writes its pid; its monitor (QMP) answers on
`qmp.sock`, its serial console goes to `console.log`.
"""

from __future__ import annotations

import hashlib
import logging
import shlex
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from pulltheplug.errors import LabError
from pulltheplug.lab import cgroups
from pulltheplug.lab.plan import LabPlan, NodePlan
from pulltheplug.ssh.keys import new_ed25519
from pulltheplug.vmlab.image import Image

log = logging.getLogger(__name__)

SEED_SIZE = "8M"


@dataclass(frozen=True, slots=True)
class MachineFiles:
    """Where a machine's pieces live, in its node folder."""

    folder: Path

    @property
    def overlay(self) -> Path:
        return self.folder / "disk.qcow2"

    @property
    def seed(self) -> Path:
        return self.folder / "seed.img"

    @property
    def qmp(self) -> Path:
        return self.folder / "qmp.sock"

    @property
    def pidfile(self) -> Path:
        return self.folder / "qemu.pid"

    @property
    def console(self) -> Path:
        return self.folder / "console.log"

    @property
    def start(self) -> Path:
        return self.folder / "start.sh"

    @property
    def host_key_pub(self) -> Path:
        return self.folder / "ssh_host_ed25519_key.pub"


def files(node: NodePlan) -> MachineFiles:
    return MachineFiles(Path(node.dir))


def mac(plan: LabPlan, node: NodePlan) -> str:
    """A locally administered MAC, stable per lab and node."""
    digest = hashlib.sha256(f"{plan.name}/{node.name}".encode()).digest()
    return "52:54:" + ":".join(f"{b:02x}" for b in digest[:4])


def make_disks(plan: LabPlan, node: NodePlan, image: Image, login_pub: str) -> None:
    """The node's overlay on the image and its seed disk (name, address, a host key made here, the login key)."""
    f = files(node)
    f.folder.mkdir(parents=True, exist_ok=True)
    _run(["qemu-img", "create", "-q", "-f", "qcow2", "-b", str(image.disk), "-F", "raw", str(f.overlay)])
    f.overlay.chmod(0o600)  # the machine's disk holds the swarm's node keys and raft data
    host_key = new_ed25519(f"{node.name}@{plan.name}")
    with tempfile.TemporaryDirectory(prefix="ptp-seed-") as tmp:
        seed = Path(tmp)
        (seed / "hostname").write_text(node.name + "\n")
        (seed / "address").write_text(f"{node.address}/{plan.prefixlen}\n")
        (seed / "ssh_host_ed25519_key").write_bytes(host_key.private)
        (seed / "ssh_host_ed25519_key").chmod(0o600)
        (seed / "ssh_host_ed25519_key.pub").write_bytes(host_key.public)
        (seed / "authorized_keys").write_text(login_pub.strip() + "\n")
        f.seed.touch(0o600)  # it holds the machine's SSH host key
        _run(["mkfs.ext4", "-q", "-F", "-L", "ptpseed", "-d", str(seed), str(f.seed), SEED_SIZE])
    f.host_key_pub.write_bytes(host_key.public)


def qemu_argv(plan: LabPlan, node: NodePlan, image: Image, memory: str, cpus: int, accel: str) -> list[str]:
    f = files(node)
    return [
        "qemu-system-x86_64", "-name", f"ptp-{plan.name}-{node.name}", "-accel", accel,
        "-smp", str(cpus), "-m", memory,
        "-kernel", str(image.kernel), "-initrd", str(image.initrd),
        "-append", "root=/dev/vda rw console=ttyS0 net.ifnames=0 panic=1 quiet",
        "-drive", f"file={f.overlay},if=virtio,format=qcow2",
        "-drive", f"file={f.seed},if=virtio,format=raw,readonly=on",
        "-netdev", f"tap,id=n0,ifname={node.hub_link},script=no,downscript=no",
        "-device", f"virtio-net-pci,netdev=n0,mac={mac(plan, node)}",
        "-display", "none", "-serial", f"file:{f.console}",
        "-qmp", f"unix:{f.qmp},server=on,wait=off",
        "-pidfile", str(f.pidfile), "-daemonize",
    ]


def write_start(plan: LabPlan, node: NodePlan, argv: list[str]) -> Path:
    """start.sh: into the node's cgroup, into the hub namespace, then QEMU (which returns once it runs).

    One start at a time (a lock), and none while the machine's QEMU runs: a second start would remove the
    running machine's monitor socket and leave it unmanageable."""
    f = files(node)
    cgroups.create(node.cgroup)
    pid, lock = shlex.quote(str(f.pidfile)), shlex.quote(str(f.folder / "start.lock"))
    script = "\n".join([
        "#!/bin/sh",
        f"# pulltheplug: start {node.name} of VM lab {plan.name} (after a power cut too: the same disk)",
        "set -e",
        f"exec 9>{lock}",
        "flock 9",
        f'if [ -s {pid} ] && [ "$(cat /proc/$(cat {pid})/comm 2>/dev/null)" = qemu-system-x86 ]; then',
        '    echo "already running" >&2; exit 0',
        "fi",
        f"rm -f {shlex.quote(str(f.qmp))}",
        cgroups.join_script(node.cgroup),
        f"exec ip netns exec {shlex.quote(plan.hub_netns)} {shlex.join(argv)} 9>&-",
        "",
    ])
    f.start.write_text(script)
    f.start.chmod(0o755)
    return f.start


def add_tap(plan: LabPlan, node: NodePlan) -> None:
    hub = ("ip", "-n", plan.hub_netns)
    _run([*hub, "tuntap", "add", "dev", node.hub_link, "mode", "tap"])
    _run([*hub, "link", "set", node.hub_link, "master", plan.bridge, "up"])


def start(node: NodePlan, timeout: float = 60.0) -> int:
    """Run start.sh; the pid QEMU wrote."""
    f = files(node)
    _run(["sh", str(f.start)], timeout)
    try:
        return int(f.pidfile.read_text().strip())
    except (OSError, ValueError) as exc:
        raise LabError(f"{node.name}: QEMU started but wrote no pid ({exc}): see {f.console}") from exc


def _run(argv: list[str], timeout: float = 60.0) -> None:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise LabError(f"{argv[0]} is missing: run `apt-get install qemu-system-x86 qemu-utils` "
                       "(or ./scripts/install)") from exc
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"`{argv[0]}` did not finish within {timeout:.0f} s") from exc
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise LabError(f"`{shlex.join(argv[:3])} ...` failed: {detail[-1] if detail else proc.returncode}")
