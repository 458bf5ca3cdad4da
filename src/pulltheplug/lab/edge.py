"""The lab's edge: a network namespace on the lab bridge where a front door (HAProxy) runs, like the
load balancer in front of a real cluster. It has the lab subnet's last address and no default route;
its processes join the lab's `edge` cgroup, so `lab down` ends them even after a killed run.
"""

from __future__ import annotations

import contextlib
import ipaddress
import logging
import os
import shlex
import signal
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path

from pulltheplug.errors import LabError
from pulltheplug.lab import cgroups
from pulltheplug.lab.commands import run
from pulltheplug.lab.network import NETNS_DIR, has_default_route, netns_exists
from pulltheplug.lab.plan import LabPlan

log = logging.getLogger(__name__)

HUB_LINK = "edge"  # the edge's veth end on the hub's bridge


class LabEdge:
    """One edge per lab at a time: opening it again after a killed run first removes the old one."""

    def __init__(self, plan: LabPlan) -> None:
        self.plan = plan
        self.netns = f"ptp-{plan.name}-edge"
        self.address = edge_address(plan)
        self.folder = Path(plan.dir) / "edge"
        self.cgroup = f"{plan.cgroup}/edge"
        self._procs: dict[str, subprocess.Popen[bytes]] = {}

    def open(self) -> LabEdge:
        self._remove()
        self.folder.mkdir(parents=True, exist_ok=True)
        try:
            run("ip", "netns", "add", self.netns)
            run("ip", "-n", self.plan.hub_netns, "link", "add", HUB_LINK, "type", "veth", "peer", "name", "eth0",
                "netns", self.netns)
            run("ip", "-n", self.plan.hub_netns, "link", "set", HUB_LINK, "master", self.plan.bridge, "up")
            inside = ("ip", "-n", self.netns)
            run(*inside, "link", "set", "lo", "up")
            run(*inside, "addr", "add", f"{self.address}/{self.plan.prefixlen}", "dev", "eth0")
            run(*inside, "link", "set", "eth0", "up")
            if has_default_route(self.netns):
                raise LabError(f"the edge of lab {self.plan.name} has a default route: refusing to go on")
            cgroups.create(self.cgroup)
        except BaseException:
            self._remove()
            raise
        return self

    def start(self, name: str, argv: Sequence[str]) -> int:
        """In the edge's network namespace only (not `ip netns exec`: it remounts /sys), in the edge cgroup."""
        joins = " && ".join(f"echo $$ > {shlex.quote(str(d / 'cgroup.procs'))}" for d in cgroups.dirs(self.cgroup))
        script = f"{joins} && exec {shlex.join(argv)}"
        with open(self.folder / f"{name}.log", "ab") as out:
            proc = subprocess.Popen(["nsenter", f"--net={NETNS_DIR / self.netns}", "sh", "-c", script],
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                    start_new_session=True)
        self._procs[name] = proc
        return proc.pid

    def running(self, name: str) -> bool:
        proc = self._procs.get(name)
        return proc is not None and proc.poll() is None

    def stop(self, name: str, timeout: float = 5.0) -> None:
        proc = self._procs.pop(name, None)
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout)

    def close(self) -> list[str]:
        done = [f"{name} stopped" for name in list(self._procs)]
        for name in list(self._procs):
            self.stop(name)
        self._remove()
        return [*done, f"edge {self.netns} removed"]

    def _remove(self) -> None:
        """Whatever a previous edge left: its processes (by cgroup), its namespace (and so its veth pair)."""
        cgroups.kill_all(self.cgroup)
        cgroups.remove(self.cgroup)
        if netns_exists(self.netns):
            run("ip", "netns", "del", self.netns)
            deadline = time.monotonic() + 5
            while netns_exists(self.netns) and time.monotonic() < deadline:
                time.sleep(0.05)


def edge_address(plan: LabPlan) -> str:
    """The subnet's last host address: nodes count up from .2 (at most 50), the host has .1."""
    return str(list(ipaddress.IPv4Network(plan.subnet).hosts())[-1])
