"""The VM lab's machine image: built once from Debian's packages with mmdebstrap, cached outside the repo.

One root filesystem (systemd, openssh-server, docker.io, keepalived, nftables, iproute2, busybox-static) as a raw
ext4 disk, and its kernel and initrd beside it, booted directly. Every machine boots the same image through its
own copy-on-write overlay; what makes a machine itself (its name, address, SSH host key, the login key) comes
from a small seed disk read by `ptp-seed.service` before sshd and Docker start. The image has no SSH host key
of its own, so no two machines share one. Nothing is pulled from a container registry: the probe image is
loaded into each machine's engine as in the namespace lab.

The cache key is a hash of the recipe (release, packages, hooks): a changed recipe builds a new image.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from pulltheplug.errors import LabError
from pulltheplug.lab.state import list_labs, load_state

log = logging.getLogger(__name__)

CACHE = Path("/var/cache/pulltheplug/vm")
RELEASE = "bookworm"
# apparmor: Debian's kernel has AppArmor on, and dockerd then loads its profile for every container
PACKAGES = ("linux-image-amd64", "systemd-sysv", "udev", "kmod", "openssh-server", "docker.io", "apparmor",
            "iproute2", "busybox-static", "keepalived", "nftables", "procps", "e2fsprogs")
DISK_SIZE = "3G"
BUILD_TIMEOUT = 1200.0  # s: mmdebstrap fetches about 400 MB of packages

# Run on the first boot of every machine, before sshd and Docker: the machine's own name, address and keys.
SEED_SCRIPT = r"""#!/bin/sh
# pulltheplug: make this machine itself from its seed disk (/dev/vdb): name, address, SSH keys.
set -eu
for i in $(seq 1 300); do [ -b /dev/vdb ] && [ -e /sys/class/net/eth0 ] && break; sleep 0.1; done
mkdir -p /run/ptp-seed
mount -o ro /dev/vdb /run/ptp-seed
S=/run/ptp-seed
cat "$S/hostname" > /etc/hostname
hostname "$(cat "$S/hostname")"
printf '127.0.0.1 localhost\n127.0.1.1 %s\n' "$(cat "$S/hostname")" > /etc/hosts
install -m 600 "$S/ssh_host_ed25519_key" /etc/ssh/ssh_host_ed25519_key
install -m 644 "$S/ssh_host_ed25519_key.pub" /etc/ssh/ssh_host_ed25519_key.pub
install -d -m 700 /root/.ssh
install -m 600 "$S/authorized_keys" /root/.ssh/authorized_keys
ip link set lo up
ip addr flush dev eth0
ip addr add "$(cat "$S/address")" dev eth0
ip link set eth0 up
umount /run/ptp-seed
"""

SEED_UNIT = """[Unit]
Description=pulltheplug seed: this machine's name, address and keys
After=systemd-udev-trigger.service local-fs.target
Before=ssh.service docker.service containerd.service keepalived.service network.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/usr/local/sbin/ptp-seed

[Install]
WantedBy=multi-user.target
"""

SSHD_CONFIG = """# pulltheplug: the lab's controller logs in as root with its key only
PermitRootLogin prohibit-password
PasswordAuthentication no
HostKey /etc/ssh/ssh_host_ed25519_key
ClientAliveInterval 5
UseDNS no
"""

# mmdebstrap --customize-hook commands ("$1" is the root filesystem).
HOOKS = (
    'rm -f "$1"/etc/ssh/ssh_host_*',
    'printf "%s" "$PTP_SEED_SCRIPT" > "$1/usr/local/sbin/ptp-seed" && chmod 755 "$1/usr/local/sbin/ptp-seed"',
    'printf "%s" "$PTP_SEED_UNIT" > "$1/etc/systemd/system/ptp-seed.service"',
    'printf "%s" "$PTP_SSHD_CONFIG" > "$1/etc/ssh/sshd_config.d/pulltheplug.conf"',
    'chroot "$1" systemctl enable ptp-seed.service',
    'chroot "$1" systemctl disable keepalived.service',  # pulltheplug starts it with its own config (entry: vip)
    'echo "/dev/vda / ext4 defaults 0 1" > "$1/etc/fstab"',
    'echo "ptp" > "$1/etc/hostname"',
    'mkdir -p "$1/etc/docker" && echo \'{"log-driver": "local"}\' > "$1/etc/docker/daemon.json"',
)


@dataclass(frozen=True, slots=True)
class Image:
    """A built image: the root filesystem as a raw disk, the kernel and the initrd booted with it."""

    folder: Path
    disk: Path
    kernel: Path
    initrd: Path

    @staticmethod
    def at(folder: Path) -> Image:
        return Image(folder, folder / "disk.img", folder / "vmlinuz", folder / "initrd.img")

    @property
    def complete(self) -> bool:
        return all(p.is_file() for p in (self.disk, self.kernel, self.initrd))


def recipe_key() -> str:
    """What the image is made of, hashed: a change to any of it makes another image."""
    text = "\n".join([RELEASE, *PACKAGES, *HOOKS, SEED_SCRIPT, SEED_UNIT, SSHD_CONFIG, DISK_SIZE])
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def cached(cache: Path = CACHE) -> Image:
    return Image.at(cache / f"{RELEASE}-{recipe_key()}")


@contextmanager
def _build_lock(cache: Path) -> Iterator[None]:
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)  # a second `lab up` waits for the first one's build
        yield


def ensure_image(progress: Callable[[str], None], cache: Path = CACHE) -> Image:
    """The cached image, built first if there is none (once: concurrent callers wait for one build)."""
    image = cached(cache)
    if image.complete:
        return image
    with _build_lock(cache):
        if image.complete:
            return image
        _build(image, progress)
    return image


def _build(image: Image, progress: Callable[[str], None]) -> None:
    for tool, package in (("mmdebstrap", "mmdebstrap"), ("mkfs.ext4", "e2fsprogs")):
        if shutil.which(tool) is None:
            raise LabError(f"{tool} is missing: run `apt-get install {package}` (or ./scripts/install)")
    for stale in image.folder.parent.glob("*.build-*"):  # a build killed half way (we hold the build lock)
        shutil.rmtree(stale, ignore_errors=True)
    work = image.folder.with_name(image.folder.name + f".build-{os.getpid()}")
    root = work / "root"
    work.mkdir(parents=True)
    started = time.monotonic()
    try:
        progress(f"building the machine image from Debian {RELEASE} (once, about 2 min)")
        env = {**os.environ, "PTP_SEED_SCRIPT": SEED_SCRIPT, "PTP_SEED_UNIT": SEED_UNIT,
               "PTP_SSHD_CONFIG": SSHD_CONFIG}
        argv = ["mmdebstrap", "--variant=minbase", "--quiet", f"--include={','.join(PACKAGES)}",
                *(f"--customize-hook={hook}" for hook in HOOKS), RELEASE, str(root)]
        _run(argv, env, BUILD_TIMEOUT)
        kernels = sorted((root / "boot").glob("vmlinuz-*"))
        initrds = sorted((root / "boot").glob("initrd.img-*"))
        if not kernels or not initrds:
            raise LabError(f"the image build left no kernel in {root / 'boot'}: see the log above")
        shutil.copy2(kernels[-1], work / "vmlinuz")
        shutil.copy2(initrds[-1], work / "initrd.img")
        _run(["mkfs.ext4", "-q", "-F", "-L", "ptproot", "-d", str(root), str(work / "disk.img"), DISK_SIZE],
             None, 300)
        shutil.rmtree(root)
        shutil.rmtree(image.folder, ignore_errors=True)
        work.rename(image.folder)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log.info("machine image %s built in %.0f s", image.folder, time.monotonic() - started)
    in_use = _in_use()
    for old in image.folder.parent.glob(f"{RELEASE}-*"):  # an older recipe's image, once no lab boots from it
        if old != image.folder and ".build-" not in old.name and str(old) not in in_use:
            shutil.rmtree(old, ignore_errors=True)


def _in_use() -> set[str]:
    """The image folders VM labs that are up boot from (their overlays need them)."""
    used = set()
    for name in list_labs():
        try:
            state = load_state(name)
        except LabError:
            continue
        if state is not None and state.kind == "vm":
            used.add(str(state.vm.get("image", "")))
    return used


def _run(argv: list[str], env: dict[str, str] | None, timeout: float) -> None:
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise LabError(f"{argv[0]} did not finish within {timeout:.0f} s") from exc
    if proc.returncode != 0:
        detail = (proc.stderr or proc.stdout).strip().splitlines()
        raise LabError(f"{argv[0]} failed: {detail[-1] if detail else proc.returncode}")
