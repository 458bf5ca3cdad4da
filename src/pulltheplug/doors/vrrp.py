"""A virtual IP held by keepalived (VRRP) across the nodes, as Pi clusters often have: clients use the one
address, and whichever node holds it answers; when the holder dies, the others elect a new one.

One keepalived per node runs as a service of that node (`Cluster.node_service`): a power cut kills it and a
freeze hangs it with the node. Its config and notify script live in the node's own files (`Cluster.node_files`:
on this machine for a lab node, in /run on an SSH host). Each one's own VRRP state comes from its `notify`
script, which writes it to a file the watcher reads: no process per poll on a lab node, one `cat` over the
open SSH connection on a host. A node whose link goes down says FAULT and drops the address; a frozen or killed
lab node says nothing more (its file keeps its last word), an SSH host that does not answer reads as
"unknown": the other nodes' takeover is what clients see.
"""

from __future__ import annotations

import ipaddress
import logging
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

from pulltheplug.cluster.seam import Cluster, ClusterNode, NodeFiles, NodeSilent
from pulltheplug.doors.from_controller import FromController
from pulltheplug.errors import ClusterError, MissingToolError, PulltheplugError, SpecError
from pulltheplug.spec import VipSpec

log = logging.getLogger(__name__)

KEEPALIVED = "keepalived"
SERVICE = "keepalived-ptp"
TOP_PRIORITY = 200


def require_keepalived() -> None:
    if shutil.which(KEEPALIVED) is None:
        raise MissingToolError("entry vip needs keepalived: apt-get install keepalived (scripts/install does)")


def default_vip(subnet: str) -> str:
    """The lab subnet's last address but one (the last is the edge's)."""
    hosts = list(ipaddress.IPv4Network(subnet).hosts())
    return str(hosts[-2])


def _num(seconds: float) -> str:
    return f"{seconds:g}"


def keepalived_config(node: str, priority: int, settings: VipSpec, vip: str, prefixlen: int, notify: Path) -> str:
    """All nodes start as BACKUP with `nopreempt`: the first elected keeps the address until it dies. The
    notify script runs through /bin/sh: a host's /run is mounted noexec (Debian's is)."""
    return f"""global_defs {{
    router_id {node}
    script_user root
    enable_script_security
}}

vrrp_instance ptp {{
    state BACKUP
    nopreempt
    interface {settings.interface}
    virtual_router_id {settings.router_id}
    priority {priority}
    advert_int {_num(settings.advert_int)}
    virtual_ipaddress {{
        {vip}/{prefixlen} dev {settings.interface}
    }}
    notify "/bin/sh {notify}"
}}
"""


def takeover_bound(settings: VipSpec) -> float:
    """Longest time from the holder's death to a backup taking over: VRRP's master-down interval is three
    adverts plus a skew below one advert, and the holder may have advertised just before it died."""
    return 4 * settings.advert_int


def read_state(files: NodeFiles, node: str) -> str:
    """What the node's keepalived last said: "starting" before it said anything, "unknown" while the node does
    not answer (an SSH host without power)."""
    try:
        text = files.read(f"{node}.state")
    except NodeSilent:
        return "unknown"
    return "starting" if text is None or not text.strip() else text.strip().lower()


class VipDoor(FromController):
    kind = "vip"

    def __init__(self, cluster: Cluster, nodes: Sequence[ClusterNode], port: int, path: str,
                 settings: VipSpec) -> None:
        self.cluster = cluster
        self.nodes = list(nodes)
        self.port = port
        self.path = path if path.startswith("/") else "/" + path
        self.settings = settings
        subnet = cluster.describe().get("subnet")
        if settings.address is None and not isinstance(subnet, str):
            raise SpecError("entry vip: set workload.entry.vip.address (the virtual IP your hosts hold)")
        self.address = settings.address or default_vip(str(subnet))
        self.prefixlen = ipaddress.IPv4Network(subnet).prefixlen if isinstance(subnet, str) else 32
        # keepalived's script security: its folder root-owned, not writable by others (NodeFiles makes it 0700)
        self.files = {n.name: cluster.node_files(n.name, "vip") for n in self.nodes}
        self._started: list[str] = []

    def start(self, timeout: float = 20.0) -> VipDoor:
        """A keepalived on every node, then wait until exactly one node holds the address."""
        try:
            for files in self.files.values():  # a state file left by a run that died would name a holder
                files.remove()
            for i, node in enumerate(self.nodes):
                files = self.files[node.name]
                folder = files.folder
                files.write(f"{node.name}.notify", f'#!/bin/sh\necho "$3" > {folder}/{node.name}.state\n', 0o700)
                conf = f"{folder}/{node.name}.conf"
                files.write(f"{node.name}.conf", keepalived_config(node.name, TOP_PRIORITY - i, self.settings,
                                                                    self.address, self.prefixlen,
                                                                    Path(f"{folder}/{node.name}.notify")))
                pids = [f"--pid={folder}/{node.name}.pid", f"--vrrp_pid={folder}/{node.name}.vrrp.pid",
                        f"--checkers_pid={folder}/{node.name}.checkers.pid"]
                self.cluster.node_service(node.name, SERVICE, [KEEPALIVED, "--vrrp", "--dont-fork", "--log-console",
                                                               f"--use-file={conf}", *pids])
                self._started.append(node.name)
            deadline = time.monotonic() + timeout
            while self.holder() is None:
                if time.monotonic() > deadline:
                    raise ClusterError(f"no node took the VIP {self.address} within {timeout:.0f}s "
                                       f"(states: {self.backends()}); see keepalived's log in the node folders")
                time.sleep(0.1)
        except BaseException:
            self.close()
            raise
        return self

    def holder(self) -> str | None:
        masters = [n for n, v in self.backends().items() if v["state"] == "master"]
        return masters[0] if len(masters) == 1 else None

    def entries(self) -> dict[str, str]:
        return {self.kind: f"http://{self.address}:{self.port}{self.path}"}

    def describe(self) -> dict[str, object]:
        return {"kind": self.kind, "address": self.address, "advert_int": self.settings.advert_int,
                "interface": self.settings.interface, "router_id": self.settings.router_id,
                "down_bound": takeover_bound(self.settings), "backends": [n.name for n in self.nodes],
                "holder_at_start": self.holder()}

    def backends(self) -> dict[str, dict[str, str]]:
        return {n.name: {"state": read_state(self.files[n.name], n.name)} for n in self.nodes}

    def close(self) -> list[str]:
        done = []
        try:
            for node in list(self._started):
                try:
                    self.cluster.node_service(node, SERVICE, None)
                    done.append(f"{node}: keepalived stopped")
                except (PulltheplugError, OSError) as exc:  # the others are stopped all the same
                    log.warning("keepalived on %s was not stopped: %s", node, exc)
        finally:
            self._started.clear()
            for files in self.files.values():
                files.remove()
        return done
