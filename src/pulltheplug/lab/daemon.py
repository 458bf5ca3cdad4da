"""One dockerd per node: booted inside the node's namespaces and cgroup, stopped, or killed whole."""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import shutil
import signal
import subprocess
from pathlib import Path

import docker
import requests

from pulltheplug.errors import LabError
from pulltheplug.lab import cgroups, engines
from pulltheplug.lab.mounts import unmount_under
from pulltheplug.lab.network import NETNS_DIR
from pulltheplug.lab.plan import NodePlan
from pulltheplug.waiting import wait_until

log = logging.getLogger(__name__)

API_VERSION = "1.41"  # docker.io 20.10 in Debian 12; newer engines accept it too


def client(node: NodePlan, timeout: float = 10) -> docker.DockerClient:
    return docker.DockerClient(base_url=node.docker_host, version=API_VERSION, timeout=int(max(1, timeout)))


def dockerd_args(node: NodePlan) -> list[str]:
    found = engines.bin_dir(node.engine)
    return [
        str(found / "dockerd") if found else "dockerd",  # another release's by its path: never the host's by mistake
        "--data-root", node.data_root,
        "--exec-root", node.exec_root,
        "--pidfile", node.pidfile,
        "-H", node.docker_host,
        "--cgroup-parent", "/" + node.cgroup,
        "--log-level", "warn",
        "--storage-driver", "overlay2",
        *engines.dockerd_extra_args(node.engine),
    ]


def boot(node: NodePlan) -> int:
    """Start the node's dockerd as a real boot would: /run (our exec-root) and stale pid files are cleared.

    dockerd enters the node's network namespace only (not `ip netns exec`, which remounts /sys and hides
    the cgroups), gets a fresh UTS namespace named after the node, and joins the node's cgroup before exec.
    """
    if running_pid(node) is not None:
        raise LabError(f"node {node.name} is already running")
    if not engines.ready(node.engine):  # its cache wiped, or a newer recipe: fetched again, never the host's
        engines.ensure([node.engine], lambda message: log.info("%s: %s", node.name, message))
    unmount_under(node.exec_root)
    shutil.rmtree(node.exec_root, ignore_errors=True)
    Path(node.pidfile).unlink(missing_ok=True)
    Path(node.socket).unlink(missing_ok=True)
    Path(node.data_root).mkdir(parents=True, exist_ok=True)
    cgroups.create(node.cgroup)
    joins = cgroups.join_script(node.cgroup)
    # any failed step ends the shell before dockerd: a daemon outside its cgroup could not be killed whole
    script = f"{joins} && hostname {shlex.quote(node.name)} && exec {shlex.join(dockerd_args(node))}"
    env = dict(os.environ)
    env["DOCKER_SERVICE_PREFER_OFFLINE_IMAGE"] = "1"  # never try a registry when the image is local
    env.pop("DOCKER_HOST", None)
    if (engine_bin := engines.bin_dir(node.engine)) is not None:  # the release's engine, found first
        env["PATH"] = f"{engine_bin}:{env.get('PATH', '/usr/sbin:/usr/bin:/sbin:/bin')}"
    with open(node.log, "ab") as log:
        proc = subprocess.Popen(
            ["nsenter", f"--net={NETNS_DIR / node.netns}", "unshare", "--uts", "sh", "-c", script],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True,
        )
    return proc.pid


def wait_ready(node: NodePlan, pid: int, timeout: float = 60) -> str:
    """Wait until the daemon answers on its socket; returns the engine version."""

    def version() -> str | None:
        if not _alive(pid):
            raise LabError(f"dockerd of {node.name} exited at start: see {node.log}")
        if not Path(node.socket).exists():
            return None
        try:
            c = client(node, timeout=2)
            try:
                return str(c.version().get("Version", "")) or "unknown"
            finally:
                c.close()
        except (docker.errors.DockerException, requests.exceptions.RequestException, OSError):
            return None  # the socket exists before the API serves: a daemon restoring its swarm takes a while

    got = wait_until(version, timeout)
    if got is not None:
        return got
    raise LabError(f"dockerd of {node.name} did not answer within {timeout:.0f}s: see {node.log}")


def _alive(pid: int) -> bool:
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # reap it if it is our child and already exited
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def running_pid(node: NodePlan) -> int | None:
    """The node's dockerd pid, if one is alive (the pid file alone may be stale after a power loss)."""
    members = cgroups.pids(node.cgroup)  # a stale pid file may name a reused pid: only the node's count
    try:
        pid = int(Path(node.pidfile).read_text().strip())
    except (OSError, ValueError):
        pid = 0
    for p in ([pid] if pid in members else []) + members:
        try:
            if _alive(p) and Path(f"/proc/{p}/comm").read_text().strip() == "dockerd":
                return p
        except OSError:
            continue
    return None


def is_up(node: NodePlan) -> bool:
    return running_pid(node) is not None


def stop(node: NodePlan, timeout: float = 30) -> None:
    """Graceful shutdown: SIGTERM to dockerd (it stops its containers), then whatever is left is killed,
    as an OS does at the end of its shutdown."""
    pid = running_pid(node)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
        wait_until(lambda: not _alive(pid), timeout)
    cgroups.kill_all(node.cgroup)
    unmount_under(node.dir)


def power_off(node: NodePlan) -> int:
    """Every process of the node killed at once, no clean-up; returns how many died."""
    killed = cgroups.kill_all(node.cgroup)
    unmount_under(node.dir)  # a real power cut leaves no mount behind: neither should the lab
    return killed




ENGINE = ("dockerd", "containerd")  # the engine; containerd-shim-* and the containers are not


def crash(node: NodePlan, timeout: float = 10) -> list[str]:
    """SIGKILL of the node's engine only (dockerd, containerd); returns what died. Its shims and containers
    stay in the node's cgroup: without live-restore, the engine kills them when it starts again."""
    victims = {p: name for p in cgroups.pids(node.cgroup) if (name := _comm(p)) in ENGINE}
    for p in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGKILL)
    if not wait_until(lambda: not any(_alive(p) for p in victims), timeout, 0.02):
        raise LabError(f"node {node.name}: the engine survived SIGKILL")
    return sorted(f"{name} {p}" for p, name in victims.items())


def end_orphans(node: NodePlan, keep: set[int], timeout: float = 10) -> int:
    """What a crashed engine left running (shims, containers), SIGKILLed, as the engine does when it starts
    again without live-restore; the node's own services (`keep`, and their children) stay. How many died."""
    members = set(cgroups.pids(node.cgroup))
    kept = set(keep)
    grew = True
    while grew:  # the services' descendants too (keepalived forks its VRRP child)
        more = {p for p in members - kept if _ppid(p) in kept}
        kept |= more
        grew = bool(more)
    victims = members - kept
    for p in victims:
        with contextlib.suppress(ProcessLookupError):
            os.kill(p, signal.SIGKILL)
    wait_until(lambda: not any(_alive(p) for p in victims), timeout, 0.02)
    unmount_under(node.exec_root)
    return len(victims)


def _ppid(pid: int) -> int:
    try:
        return int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""
