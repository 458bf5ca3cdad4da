"""Swarm settings a run asks for (`docker swarm update` through the Engine API): applied before the run,
recorded with the values found, restored after it.

The whole current spec is sent back with only the asked fields changed: the Engine API's update replaces
the spec, so a partial one would reset the rest (CA, raft, encryption) to defaults.
"""

from __future__ import annotations

import contextlib
import copy
import logging
import time
from typing import Any

from pulltheplug.cluster.seam import Cluster
from pulltheplug.errors import ClusterError
from pulltheplug.spec import SwarmSettingsSpec
from pulltheplug.swarm.api import API_ERRORS, answering_manager

log = logging.getLogger(__name__)

NS = 1_000_000_000
# setting -> (path in the swarm spec, to the spec's unit, from it)
FIELDS: dict[str, tuple[tuple[str, str], Any, Any]] = {
    "dispatcher_heartbeat": (("Dispatcher", "HeartbeatPeriod"), lambda s: round(s * NS), lambda v: v / NS),
    "task_history_limit": (("Orchestration", "TaskHistoryRetentionLimit"), int, int),
}


def wanted(settings: SwarmSettingsSpec) -> dict[str, float | int]:
    return {k: v for k, v in settings.model_dump().items() if v is not None}


def read(spec: dict[str, Any]) -> dict[str, float | int | None]:
    """The settings as the swarm spec has them (None where the spec leaves a field out: the engine's default)."""
    out: dict[str, float | int | None] = {}
    for name, ((section, key), _, from_spec) in FIELDS.items():
        value = (spec.get(section) or {}).get(key)
        out[name] = from_spec(value) if value is not None else None
    return out


def with_values(spec: dict[str, Any], values: dict[str, float | int | None]) -> dict[str, Any]:
    """A copy of the spec with these settings (None: left as it is)."""
    new = copy.deepcopy(spec)
    for name, value in values.items():
        if value is None:
            continue
        (section, key), to_spec, _ = FIELDS[name]
        new.setdefault(section, {})[key] = to_spec(value)
    return new


def _update(cluster: Cluster, values: dict[str, float | int | None]) -> None:
    c, _ = answering_manager(cluster)
    with contextlib.closing(c):
        try:
            info = c.api.inspect_swarm()
            c.api.update_swarm(version=info["Version"]["Index"], swarm_spec=with_values(info["Spec"], values))
            now = read(c.api.inspect_swarm()["Spec"])
        except API_ERRORS as exc:
            raise ClusterError(f"swarm update failed: {type(exc).__name__}: {str(exc)[:160]}") from exc
    off = [k for k, v in values.items() if v is not None and now.get(k) != v]
    if off:
        raise ClusterError(f"swarm update did not take: {', '.join(off)} is {[now[k] for k in off]}")


def found(cluster: Cluster, settings: SwarmSettingsSpec) -> dict[str, dict[str, float | int | None]]:
    """{setting: {"before": found now, "run": asked}} for each setting asked; {} when none was (nothing asked)."""
    asked = wanted(settings)
    if not asked:
        return {}
    c, _ = answering_manager(cluster)
    with contextlib.closing(c):
        try:
            before = read(c.api.inspect_swarm()["Spec"])
        except API_ERRORS as exc:
            raise ClusterError(f"swarm inspect failed: {type(exc).__name__}: {str(exc)[:160]}") from exc
    return {k: {"before": before.get(k), "run": v} for k, v in asked.items()}


def apply(cluster: Cluster, applied: dict[str, dict[str, float | int | None]]) -> None:
    """Set the run's values (`found`'s "run")."""
    if applied:
        _update(cluster, {k: v["run"] for k, v in applied.items()})


RESTORE_TIMEOUT = 150.0  # s: a swarm just back from a manager fault was without a leader for about 100 s here


def restore(cluster: Cluster, applied: dict[str, dict[str, float | int | None]]) -> None:
    """Put back what `found` found (a setting the spec had left out stays as the run set it: the engine's
    default was in force, and Swarm shows no way to unset it). Retried as `put_back` is: a run that has just
    reverted a manager fault meets a swarm electing its leader, which refuses updates until it has one."""
    if applied:
        put_back(cluster, before(applied), RESTORE_TIMEOUT)


def before(applied: dict[str, dict[str, float | int | None]]) -> dict[str, float | int | None]:
    """What `found` found, as a cluster notes it for `heal` and the dead-man (`Cluster.guard_settings`)."""
    return {k: v["before"] for k, v in applied.items()}


# s a run may spend beyond its planned phases while the swarm carries its settings (reverts that boot nodes,
# the records): the settings' dead-man waits this much more, so it never puts them back under a live run
RESTORE_SLACK = 60.0


def put_back(cluster: Cluster, values: dict[str, float | int | None], timeout: float) -> None:
    """`heal`'s restore from a note: retried for `timeout` s, since a swarm just healed of a cut manager can be
    without a leader (about 100 s here) and refuses updates until it has one. ClusterError when it never took."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            _update(cluster, values)
            return
        except ClusterError as exc:
            if time.monotonic() >= deadline:
                raise
            log.info("swarm settings not put back yet (%s): retrying", exc)
            time.sleep(2.0)


DEFAULT_HEARTBEAT = 5.0  # Swarm's, when the spec does not say


def settle_time(applied: dict[str, dict[str, float | int | None]]) -> float:
    """How long until every node runs on the new heartbeat period: one old period (plus a margin)."""
    beat = applied.get("dispatcher_heartbeat")
    if beat is None:
        return 0.0
    before = beat.get("before")
    return float(before if isinstance(before, int | float) else DEFAULT_HEARTBEAT) + 0.5
