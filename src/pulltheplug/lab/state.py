"""The lab state file: how any later command, in any process, finds the lab.

The plan is written before anything is made, so `down` works after `up` was killed half way.
"""

from __future__ import annotations

import json
import os
import threading
from pathlib import Path

from pydantic import BaseModel, Field

from pulltheplug.errors import LabError
from pulltheplug.lab.plan import LAB_ROOT, LabPlan, check_name


class LabState(BaseModel):
    plan: LabPlan
    kind: str = "ns"  # ns: a namespace and a dockerd per node | vm: a QEMU machine per node (pulltheplug.vmlab)
    status: str = "creating"  # creating | up
    vm: dict[str, str | int] = Field(default_factory=dict)  # kind vm: memory, cpus, accel, image
    pids: dict[str, int] = Field(default_factory=dict)  # node -> dockerd pid (the one we started)
    engine_version: str = ""  # node1's dockerd when the lab was made, as its API said (every node's now: below)
    engine_versions: dict[str, str] = Field(default_factory=dict)  # node -> its dockerd's version, as its API says
    services: dict[str, dict[str, list[str]]] = Field(default_factory=dict)  # node -> name -> argv (at boot)
    service_pids: dict[str, dict[str, int]] = Field(default_factory=dict)  # node -> name -> pid now
    created_at: str = ""


def state_path(name: str, root: Path = LAB_ROOT) -> Path:
    check_name(name)  # a name becomes a folder and a cgroup path: never '..' or '/'
    return root / name / "state.json"


def save_state(state: LabState, root: Path = LAB_ROOT) -> None:
    """Write atomically: a reader never sees half a file."""
    path = state_path(state.plan.name, root)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")  # threads may save at once
    tmp.write_text(state.model_dump_json(indent=2))
    with open(tmp, "rb") as f:
        os.fsync(f.fileno())
    tmp.replace(path)


def load_state(name: str, root: Path = LAB_ROOT) -> LabState | None:
    path = state_path(name, root)
    if not path.exists():
        return None
    try:
        return LabState.model_validate(json.loads(path.read_text()))
    except (ValueError, OSError) as exc:
        raise LabError(f"lab state {path} is unreadable ({exc}): run `pulltheplug lab down --name {name}`") from exc


def require_state(name: str, root: Path = LAB_ROOT) -> LabState:
    state = load_state(name, root)
    if state is None:
        raise LabError(f"no lab {name!r} is up: run `pulltheplug lab up --name {name}` first")
    return state


def list_labs(root: Path = LAB_ROOT) -> list[str]:
    if not root.is_dir():
        return []
    return sorted(p.parent.name for p in root.glob("*/state.json"))
