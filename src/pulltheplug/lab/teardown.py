"""Removing a lab: every process in its cgroup, its mounts, namespaces, links and folder. Works from the plan or,
without one, by names; idempotent."""

from __future__ import annotations

import logging
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

from pulltheplug.errors import LabError
from pulltheplug.lab import cgroups, network
from pulltheplug.lab.mounts import unmount_under
from pulltheplug.lab.plan import CGROUP_PREFIX, LAB_ROOT
from pulltheplug.lab.state import list_labs, load_state, state_path

log = logging.getLogger(__name__)


def teardown(name: str, progress: Callable[[str], None]) -> bool:
    """Remove everything the lab made. Idempotent; works from the plan or, without one, by names.

    Returns whether there was anything to remove.
    """
    state = load_state(name)
    lab_cgroup = f"{CGROUP_PREFIX}/{name}"
    lab_dir = LAB_ROOT / name
    found = state is not None or lab_dir.exists() or bool(cgroups.pids(lab_cgroup))
    progress("stopping every process of the lab")
    cgroups.kill_all(lab_cgroup)  # every node at once, containers included
    progress("unmounting")
    unmount_under(str(lab_dir))
    progress("removing namespaces and links")
    if state is not None:
        network.remove_network(state.plan)
    for ns in _netns_with_prefix(f"ptp-{name}-"):
        found = True
        subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)
    if Path(f"/sys/class/net/ptp-{name}").exists():
        found = True
        subprocess.run(["ip", "link", "del", f"ptp-{name}"], check=False, capture_output=True)
    cgroups.remove(lab_cgroup)
    # the state file goes last: until then a second `down` still finds the lab
    for child in sorted(lab_dir.glob("*")) if lab_dir.exists() else []:
        if child != state_path(name):
            shutil.rmtree(child, ignore_errors=True) if child.is_dir() else child.unlink(missing_ok=True)
    state_path(name).unlink(missing_ok=True)
    if lab_dir.exists():
        shutil.rmtree(lab_dir, ignore_errors=True)
    if lab_dir.exists():
        raise LabError(f"could not remove {lab_dir}: see `mount | grep {lab_dir}`")
    if not list_labs():
        cgroups.remove(CGROUP_PREFIX)
    return found


def _netns_with_prefix(prefix: str) -> list[str]:
    if not network.NETNS_DIR.is_dir():
        return []
    return sorted(p.name for p in network.NETNS_DIR.iterdir() if p.name.startswith(prefix))
