"""A lab of virtual machines: one QEMU machine per node, each with a kernel of its own, reached over SSH.

`up` makes the namespace lab's network (a hub namespace with the bridge, the host's link into it: no default
route, no NAT), a tap per machine on the bridge, the machines from the cached image (`vmlab/image.py`), then
forms the swarm through the SSH backend exactly as `cluster form` does on your own hosts, loads the probe image
and waits until every node is Ready. What the SSH backend needs is written under the lab's folder: an
inventory (each host with its `qemu` power driver), the machines' host keys as known_hosts (made before the
first boot: never trust on first use) and a throwaway login key. Runs on the lab go through the SSH backend.

`lab down` is the namespace lab's: every process in the lab's cgroup (QEMU too), the namespaces (the taps go
with the hub), the folder (overlays and keys); the cached image stays.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from pulltheplug.cluster.seam import NodeStatus
from pulltheplug.errors import ClusterError, LabError, MissingToolError
from pulltheplug.lab import image as probe_image
from pulltheplug.lab import network
from pulltheplug.lab.lab import make, require_root
from pulltheplug.lab.plan import LabPlan, pick_subnet, plan_lab
from pulltheplug.lab.state import LabState, load_state, require_state, save_state
from pulltheplug.spec import ClusterSpec
from pulltheplug.ssh import form as ssh_form
from pulltheplug.ssh.cluster import SshCluster, engine_answers
from pulltheplug.ssh.inventory import load_inventory
from pulltheplug.ssh.keys import new_ed25519
from pulltheplug.ssh.qmp import qmp, run_state
from pulltheplug.ssh.session import Sessions, SshOptions
from pulltheplug.swarm.api import API_ERRORS, node_rows
from pulltheplug.vmlab import machine
from pulltheplug.vmlab.image import CACHE, Image, ensure_image
from pulltheplug.waiting import wait_until

log = logging.getLogger(__name__)

Progress = Callable[[str], None]
VM_TOOLS = {
    "qemu-system-x86_64": "apt-get install qemu-system-x86",
    "qemu-img": "apt-get install qemu-utils",
    "mmdebstrap": "apt-get install mmdebstrap",
    "mkfs.ext4": "apt-get install e2fsprogs",
    "ip": "apt-get install iproute2",
    "busybox": "apt-get install busybox-static",
}
BOOT_TIMEOUT = 420.0  # s: under TCG a machine answers SSH and Docker 40 to 90 s after its start, more when several boot
KVM_PROBE_S = 10.0


def _quiet(_: str) -> None:
    pass


def require_tools() -> None:
    for tool, fix in VM_TOOLS.items():
        if shutil.which(tool) is None:
            raise MissingToolError(f"{tool} is missing: run `{fix}` (or ./scripts/install)")


def inventory_path(plan: LabPlan) -> Path:
    return Path(plan.dir) / "inventory.yaml"


def known_hosts_path(plan: LabPlan) -> Path:
    return Path(plan.dir) / "known_hosts"


def login_key_path(plan: LabPlan) -> Path:
    return Path(plan.dir) / "login_key"


def cluster_spec(state: LabState) -> ClusterSpec:
    """What the SSH backend opens for this lab: its own inventory and known_hosts."""
    return ClusterSpec(kind="ssh", hosts=inventory_path(state.plan), known_hosts=known_hosts_path(state.plan))


def pick_accel(image: Image, cache: Path = CACHE) -> tuple[str, str]:
    """(QEMU's -accel, why): KVM where a guest actually runs on it (its kernel prints within KVM_PROBE_S),
    else TCG. /dev/kvm opening is not enough: on some hosts KVM_CREATE_VM works and no guest ever runs. The
    verdict is kept per host boot."""
    if not Path("/dev/kvm").exists():
        return "tcg,thread=multi", "TCG (no /dev/kvm)"
    boot_id = Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    verdict = cache / f"kvm-{boot_id}"
    if not verdict.exists():
        cache.mkdir(parents=True, exist_ok=True)
        verdict.write_text("yes" if _kvm_runs(image) else "no")
    if verdict.read_text() == "yes":
        return "kvm", "KVM"
    return "tcg,thread=multi", "TCG (a KVM guest does not run on this host)"


def _kvm_runs(image: Image) -> bool:
    argv = ["qemu-system-x86_64", "-accel", "kvm", "-m", "256", "-kernel", str(image.kernel),
            "-append", "console=ttyS0 panic=-1", "-display", "none", "-serial", "stdio", "-no-reboot"]
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, timeout=KVM_PROBE_S, check=False)
        out = proc.stdout
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout.decode(errors="replace") if isinstance(exc.stdout, bytes) else (exc.stdout or "")
    return "Linux version" in out


def write_access(state: LabState) -> None:
    """The inventory (power driver included), known_hosts from the host keys made here, for the SSH backend."""
    plan = state.plan
    hosts = {}
    lines = []
    for node in plan.nodes:
        f = machine.files(node)
        hosts[node.name] = {
            "address": node.address, "user": "root", "key": str(login_key_path(plan)), "role": node.role,
            "interface": "eth0",
            "power": {"kind": "qemu", "qmp": str(f.qmp), "start": f"sh {f.start}"},
        }
        if f.host_key_pub.exists():
            lines.append(f"{node.address} {f.host_key_pub.read_text().strip()}")
    inventory_path(plan).write_text("# written by `pulltheplug lab up --kind vm`: the lab's machines over SSH\n"
                                    + yaml.safe_dump({"hosts": hosts}, sort_keys=False))
    known_hosts_path(plan).write_text("".join(line + "\n" for line in lines))


def up(name: str, nodes: int = 3, managers: int = 1, memory: str = "1g", cpus: int = 1,
       progress: Progress = _quiet) -> LabState:
    """Make the VM lab; on any failure (Ctrl-C included) take down what was made, then re-raise."""
    require_root()
    if load_state(name) is not None:
        raise LabError(f"lab {name!r} is already up: use it, or run `pulltheplug lab down --name {name}` first")
    require_tools()
    if cpus < 1:
        raise LabError(f"--cpus {cpus}: give at least 1")
    plan = plan_lab(name, nodes, managers, pick_subnet(network.host_networks()))
    state = LabState(plan=plan, kind="vm", vm={"memory": memory, "cpus": cpus},
                     created_at=dt.datetime.now(dt.UTC).isoformat(timespec="seconds"))
    return make(state, _build, progress)


def _build(state: LabState, progress: Progress) -> None:
    plan = state.plan
    image = ensure_image(progress)
    accel, said = pick_accel(image)
    progress(f"machines run on {said}")
    state.vm |= {"accel": accel, "accel_said": said, "image": str(image.folder)}
    save_state(state)
    network.create_hub(plan)
    key = new_ed25519(f"pulltheplug-lab-{plan.name}")
    login = login_key_path(plan)
    login.parent.mkdir(parents=True, exist_ok=True)
    login.touch(0o600)
    login.write_bytes(key.private)
    pub = key.public.decode()
    for node in plan.nodes:
        progress(f"{node.name}: disks and tap")
        machine.make_disks(plan, node, image, pub)
        machine.add_tap(plan, node)
        argv = machine.qemu_argv(plan, node, image, str(state.vm["memory"]), int(state.vm["cpus"]), accel)
        machine.write_start(plan, node, argv)
    write_access(state)
    started = time.monotonic()
    for node in plan.nodes:
        state.pids[node.name] = machine.start(node)
    save_state(state)
    inventory = load_inventory(inventory_path(plan))
    options = SshOptions(known_hosts=known_hosts_path(plan))
    progress(f"booting {len(plan.nodes)} machines (about a minute under TCG)")
    _wait_engines(state, options, BOOT_TIMEOUT)
    log.info("VM lab %s: every engine answered %.0f s after the start", plan.name, time.monotonic() - started)
    formed = ssh_form.form(inventory, options, managers=len(plan.managers), progress=progress)
    progress("loading the probe image")
    tar = probe_image.rootfs_tar()
    with Sessions(inventory, options) as sessions:
        for node in plan.nodes:
            client = sessions[node.name].docker_client(30)
            try:
                probe_image.import_probe(client, tar)
                state.engine_version = str(client.version().get("Version", ""))
            finally:
                client.close()
    log.info("VM lab %s formed: founder %s, %d nodes", plan.name, formed.founder, len(formed.rows))
    state.status = "up"
    save_state(state)


def _wait_engines(state: LabState, options: SshOptions, timeout: float,
                  names: list[str] | None = None) -> None:
    """Until every machine named answers SSH and its Docker engine answers; a LabError naming the late ones."""
    plan = state.plan
    inventory = load_inventory(inventory_path(plan))
    waiting = set(names or [n.name for n in plan.nodes])
    with Sessions(inventory, options) as sessions:

        def answered() -> bool:
            for name in sorted(waiting):
                if _engine_answers(sessions, name):
                    waiting.discard(name)
            return not waiting

        if not wait_until(answered, timeout, 2.0):
            consoles = ", ".join(str(machine.files(plan.node(n)).console) for n in sorted(waiting))
            raise LabError(f"{', '.join(sorted(waiting))}: no SSH and Docker {timeout:.0f} s after the start: "
                           f"see {consoles}")


def _engine_answers(sessions: Sessions, name: str) -> bool:
    return engine_answers(sessions[name], 5)


def status(name: str) -> list[NodeStatus]:
    """Each machine: whether it runs (QMP), its engine answers (SSH), and the swarm's view of it."""
    state = require_state(name)
    plan = state.plan
    inventory = load_inventory(inventory_path(plan))
    rows: dict[str, dict[str, str]] = {}
    alive: dict[str, bool] = {}
    with Sessions(inventory, SshOptions(known_hosts=known_hosts_path(plan), connect_timeout=5)) as sessions:
        for node in plan.nodes:
            running = run_state(machine.files(node).qmp, 2.0) == "running"
            alive[node.name] = running and _engine_answers(sessions, node.name)
        for node in plan.managers:
            if not alive[node.name] or rows:
                continue
            try:
                client = sessions[node.name].docker_client(5)
                rows = {r["name"]: r for r in node_rows(client.api.nodes())}
                client.close()
            except (ClusterError, OSError, *API_ERRORS) as exc:
                log.debug("%s: no node list (%s)", node.name, exc)
    return [NodeStatus(name=n.name, role=rows.get(n.name, {}).get("role", n.role), address=n.address,
                       state=rows.get(n.name, {}).get("state", "unknown"),
                       availability=rows.get(n.name, {}).get("availability", ""),
                       manager=rows.get(n.name, {}).get("manager", ""), daemon=alive[n.name],
                       engine_version=rows.get(n.name, {}).get("engine_version", ""))
            for n in plan.nodes]


def heal(name: str, progress: Progress = _quiet) -> list[str]:
    """Power on every machine that is off, resume every paused one, wait for their engines, then what the SSH
    backend heals (the swarm settings a killed run changed)."""
    state = require_state(name)
    done, started = [], []
    for node in state.plan.nodes:
        f = machine.files(node)
        now = run_state(f.qmp, 2.0)
        if now == "off":
            progress(f"{node.name}: power on")
            state.pids[node.name] = machine.start(node)
            done.append(f"{node.name}: power on")
            started.append(node.name)
        elif now == "paused":
            qmp(f.qmp, "cont")
            done.append(f"{node.name}: resumed")
    save_state(state)
    if started:
        progress("waiting for the machines' engines")
        _wait_engines(state, SshOptions(known_hosts=known_hosts_path(state.plan)), BOOT_TIMEOUT, started)
    cluster = SshCluster(cluster_spec(state), [], [])
    cluster.name = state.plan.name  # as runs on the lab name it (backends.py): its noted settings
    try:
        done += cluster.heal()
    finally:
        cluster.sessions.close()
    return done


def ssh_argv(state: LabState, node: str, argv: list[str]) -> list[str]:
    """`ssh` into a machine as root with the lab's key and known_hosts (for `lab exec`)."""
    plan = state.plan
    n = plan.node(node)
    return ["ssh", "-i", str(login_key_path(plan)), "-o", f"UserKnownHostsFile={known_hosts_path(plan)}",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes", f"root@{n.address}", *argv]


def pids(state: LabState) -> dict[str, int | None]:
    """Each machine's QEMU pid now (None: not running)."""
    out: dict[str, int | None] = {}
    for node in state.plan.nodes:
        f = machine.files(node)
        try:
            pid = int(f.pidfile.read_text().strip())
            os.kill(pid, 0)
            out[node.name] = pid
        except (OSError, ValueError):
            out[node.name] = None
    return out
