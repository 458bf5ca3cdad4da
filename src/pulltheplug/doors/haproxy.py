"""A real HAProxy in front of the nodes: round robin, HTTP health checks, its own view of each node polled.

The config and the stats parser are pure; `HaproxyDoor` writes the config into the edge's folder, starts
`haproxy -db` there and reads `show stat` from its admin socket (a unix socket: no namespace to enter).
"""

from __future__ import annotations

import csv
import io
import shutil
import socket
import time
from collections.abc import Sequence
from pathlib import Path

from pulltheplug.cluster.seam import ClusterNode, Edge
from pulltheplug.doors.from_controller import FromController
from pulltheplug.errors import ClusterError, MissingToolError
from pulltheplug.spec import HaproxySpec

BACKEND = "swarm"
HAPROXY = "haproxy"


def require_haproxy() -> None:
    if shutil.which(HAPROXY) is None:
        raise MissingToolError("entry haproxy needs HAProxy: apt-get install haproxy (scripts/install does)")


def _ms(seconds: float) -> str:
    return f"{max(1, round(seconds * 1000))}ms"


def haproxy_config(nodes: Sequence[ClusterNode], bind: str, port: int, path: str, settings: HaproxySpec,
                   server_timeout: float, stats_socket: Path) -> str:
    """Every node a server of one backend, checked with GET `path` (2xx/3xx is healthy, as HAProxy's default)."""
    servers = "\n".join(f"    server {n.name} {n.address}:{port} check" for n in nodes)
    return f"""global
    stats socket {stats_socket} mode 600 level admin
    maxconn 8000

defaults
    mode http
    timeout connect {_ms(settings.connect_timeout)}
    timeout client 30s
    timeout server {_ms(server_timeout)}
    timeout check {_ms(settings.connect_timeout)}
    retries 3
{"    option redispatch" if settings.redispatch else ""}

frontend door
    bind {bind}:{port}
    default_backend {BACKEND}

backend {BACKEND}
    balance roundrobin
    option httpchk GET {path}
    http-response set-header X-Ptp-Server %[srv_name]
    default-server inter {_ms(settings.inter)} fall {settings.fall} rise {settings.rise}
{servers}
"""


def down_bound(settings: HaproxySpec) -> float:
    """Longest time from a node's death to HAProxy marking it DOWN: `fall` failed checks, each started up to
    `inter` apart and failing by `timeout check` at the latest, plus one `inter` for the check in flight."""
    return (settings.fall + 1) * settings.inter + settings.connect_timeout


def state_of(status: str) -> str:
    """HAProxy's status column, in words: "UP 1/3" is a node failing its checks, still taking traffic."""
    s = status.strip().upper()
    if s.startswith("UP ") and "/" in s:
        return "going_down"
    if s.startswith("DOWN ") and "/" in s:
        return "going_up"
    return {"UP": "up", "DOWN": "down", "MAINT": "maint", "NO CHECK": "no_check"}.get(s, s.lower() or "unknown")


def parse_stat(text: str, backend: str = BACKEND) -> dict[str, dict[str, str]]:
    """`show stat` CSV -> {server: {"state", "check"}} for the servers of `backend`."""
    lines = text.splitlines()
    if not lines or not lines[0].startswith("# "):
        raise ValueError("not a `show stat` answer")
    rows = csv.DictReader(io.StringIO("\n".join([lines[0][2:], *lines[1:]])))
    out: dict[str, dict[str, str]] = {}
    for row in rows:
        if row.get("pxname") != backend or row.get("svname") in ("FRONTEND", "BACKEND", None):
            continue
        check = (row.get("check_status") or "").strip("* ")
        state = "starting" if check == "INI" else state_of(row.get("status") or "")  # no check ran yet
        out[str(row["svname"])] = {"state": state, "check": check}
    return out


def show_stat(path: Path, timeout: float = 1.0) -> str:
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(timeout)
        s.connect(str(path))
        s.sendall(b"show stat\n")
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode(errors="replace")


class HaproxyDoor(FromController):
    kind = "haproxy"

    def __init__(self, edge: Edge, nodes: list[ClusterNode], port: int, path: str, settings: HaproxySpec,
                 server_timeout: float) -> None:
        self.edge = edge
        self.nodes = nodes
        self.port = port
        self.path = path if path.startswith("/") else "/" + path
        self.settings = settings
        self.server_timeout = server_timeout
        self.socket = edge.folder / "haproxy.sock"
        self.config = edge.folder / "haproxy.cfg"

    def start(self, timeout: float = 10.0) -> HaproxyDoor:
        """Write the config, check it (`-c`: a bad one is one line), start HAProxy, wait for its socket."""
        self.socket.unlink(missing_ok=True)
        self.config.write_text(haproxy_config(self.nodes, self.edge.address, self.port, self.path, self.settings,
                                              self.server_timeout, self.socket))
        self.edge.start(HAPROXY, [HAPROXY, "-db", "-f", str(self.config)])
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.edge.running(HAPROXY):
                log = (self.edge.folder / f"{HAPROXY}.log").read_text(errors="replace").strip().splitlines()
                raise ClusterError(f"haproxy exited at start: {(log or ['no output'])[-1][:200]}")
            try:
                self.backends()
                return self
            except (OSError, ValueError):
                time.sleep(0.05)
        raise ClusterError(f"haproxy's stats socket {self.socket} did not answer within {timeout:.0f}s")

    def holder(self) -> str | None:
        return None  # every node serves behind it

    def entries(self) -> dict[str, str]:
        return {self.kind: f"http://{self.edge.address}:{self.port}{self.path}"}

    def describe(self) -> dict[str, object]:
        s = self.settings
        return {"kind": self.kind, "address": self.edge.address, "port": self.port, "inter": s.inter,
                "fall": s.fall, "rise": s.rise, "connect_timeout": s.connect_timeout, "redispatch": s.redispatch,
                "down_bound": down_bound(s), "backends": [n.name for n in self.nodes]}

    def backends(self) -> dict[str, dict[str, str]]:
        return parse_stat(show_stat(self.socket))

    def close(self) -> list[str]:
        return self.edge.close()
