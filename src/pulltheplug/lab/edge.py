"""The lab's edge: a network namespace on the lab bridge where a front door (HAProxy) runs, like the
load balancer in front of a real cluster. It has the lab subnet's last address and no default route;
its processes join the lab's `edge` cgroup, so `lab down` ends them even after a killed run.
"""

from __future__ import annotations

import ipaddress
import logging
import shlex
from collections.abc import Sequence
from pathlib import Path

from pulltheplug.cluster.edge_processes import EdgeProcesses
from pulltheplug.errors import LabError
from pulltheplug.lab import cgroups
from pulltheplug.lab.commands import run
from pulltheplug.lab.network import NETNS_DIR, has_default_route, netns_exists
from pulltheplug.lab.plan import LabPlan
from pulltheplug.waiting import wait_until

log = logging.getLogger(__name__)

HUB_LINK = "edge"  # the edge's veth end on the hub's bridge


class LabEdge(EdgeProcesses):
    """One edge per lab at a time: opening it again after a killed run first removes the old one."""

    def __init__(self, plan: LabPlan) -> None:
        super().__init__(Path(plan.dir) / "edge")
        self.plan = plan
        self.netns = f"ptp-{plan.name}-edge"
        self.address = edge_address(plan)
        self.cgroup = f"{plan.cgroup}/edge"

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

    def wrap(self, argv: Sequence[str]) -> list[str]:
        """In the edge's network namespace only (not `ip netns exec`: it remounts /sys), in the edge cgroup."""
        joins = cgroups.join_script(self.cgroup)
        return ["nsenter", f"--net={NETNS_DIR / self.netns}", "sh", "-c", f"{joins} && exec {shlex.join(argv)}"]

    def close(self) -> list[str]:
        done = self.stop_all()
        self._remove()
        return [*done, f"edge {self.netns} removed"]

    def _remove(self) -> None:
        """Whatever a previous edge left: its processes (by cgroup), its namespace (and so its veth pair)."""
        cgroups.kill_all(self.cgroup)
        cgroups.remove(self.cgroup)
        if netns_exists(self.netns):
            run("ip", "netns", "del", self.netns)
            wait_until(lambda: not netns_exists(self.netns), 5)


def edge_address(plan: LabPlan) -> str:
    """The subnet's last host address: nodes count up from .2 (at most 50), the host has .1."""
    return str(list(ipaddress.IPv4Network(plan.subnet).hosts())[-1])
