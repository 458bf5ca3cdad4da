"""`pulltheplug doctor`: can this machine run a lab (or be a real swarm node)? One line of advice each."""

from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    advice: str
    required: bool  # needed for a lab to run


def _sh(script: str) -> bool:
    """Run a probe inside a throwaway network namespace: nothing is left on the host."""
    if shutil.which("unshare") is None:
        return False
    proc = subprocess.run(["unshare", "--net", "sh", "-c", script], capture_output=True, timeout=20, check=False)
    return proc.returncode == 0


def _tool(name: str, fix: str, required: bool = True) -> Check:
    path = shutil.which(name)
    return Check(name, path is not None, path or "not found", f"run `{fix}`", required)


def checks() -> list[Check]:
    root = os.geteuid() == 0
    out = [Check("root", root, f"uid {os.geteuid()}", "run as root (sudo)", True)]
    out.append(
        Check("network namespaces", root and _sh("ip link set lo up"), "unshare --net",
              "enable CONFIG_NET_NS in the kernel", True)
    )
    out.append(
        Check("veth + bridge", root and _sh("ip link add b0 type bridge && ip link add v0 type veth peer name v1"),
              "created in a throwaway namespace", "enable CONFIG_VETH and CONFIG_BRIDGE", True)
    )
    overlay = "overlay" in Path("/proc/filesystems").read_text()
    out.append(Check("overlayfs", overlay, "/proc/filesystems", "enable CONFIG_OVERLAY_FS (dockerd's overlay2)", True))
    v2 = Path("/sys/fs/cgroup/cgroup.controllers").exists()
    v1 = Path("/sys/fs/cgroup/freezer").is_dir()
    out.append(
        Check("cgroups", v1 or v2, "v2 unified" if v2 else ("v1 with freezer" if v1 else "none usable"),
              "mount cgroup v2 at /sys/fs/cgroup or the v1 freezer hierarchy", True)
    )
    out.append(
        Check("VXLAN", root and _sh("ip link add vx0 type vxlan id 42 dstport 4789 dev lo"),
              "swarm overlay networks", "enable CONFIG_VXLAN (overlay networks need it)", False)
    )
    ipvs = Path("/proc/net/ip_vs").exists()
    out.append(
        Check("IP_VS", ipvs, "present" if ipvs else "missing: the routing mesh and service VIPs are unavailable",
              "publish with mode=host or use --endpoint-mode dnsrr (pulltheplug does)", False)
    )
    netem = root and _sh("tc qdisc add dev lo root netem delay 1ms")
    out.append(  # a kernel fact only: no pulltheplug fault shapes traffic (yet)
        Check("netem", netem, "tc qdisc netem " + ("works" if netem else "is not available"),
              "nothing to do: no fault of pulltheplug needs it", False)
    )
    out.append(_tool("dockerd", "apt-get install docker.io"))
    out.append(_tool("containerd", "apt-get install docker.io"))
    out.append(_tool("runc", "apt-get install docker.io"))
    bb = shutil.which("busybox")
    static = bb is not None and b"ld-linux" not in Path(bb).read_bytes()[:4096 * 4]
    out.append(Check("busybox-static", static, bb or "not found", "run `apt-get install busybox-static`", True))
    out.append(_tool("ip", "apt-get install iproute2"))
    out.append(_tool("nsenter", "apt-get install util-linux"))
    out.append(_tool("iptables", "apt-get install iptables (dockerd sets rules inside each node)"))
    # the VM lab (`lab up --kind vm`) only: not required for the namespace lab
    out.append(_tool("qemu-system-x86_64", "apt-get install qemu-system-x86 (the VM lab)", required=False))
    out.append(_tool("qemu-img", "apt-get install qemu-utils (the VM lab)", required=False))
    out.append(_tool("mmdebstrap", "apt-get install mmdebstrap (the VM lab's image)", required=False))
    tun = Path("/dev/net/tun").exists()
    out.append(Check("tap devices", tun, "/dev/net/tun" if tun else "no /dev/net/tun",
                     "load the tun module (the VM lab's machines are on taps)", False))
    return out


def lab_can_run(results: list[Check]) -> bool:
    return all(c.ok for c in results if c.required)
