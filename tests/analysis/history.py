"""Synthetic histories for analysis tests: an open-loop stream, failing where and when a test says."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from pulltheplug.records.events import Event, event, numbered
from pulltheplug.records.model import Meta, Outcome, RequestRecord, Run

ENTRIES = ("node1", "node2", "node3")
# (entry, due) -> error kind, or None for an ok answer; "timeout" gives an info outcome, like the client.
Failure = Callable[[str, float], str | None]


def never(entry: str, due: float) -> str | None:
    return None


def no_lag(due: float) -> float:
    return 0.0


def failing(entry: str, start: float, end: float, kind: str = "refused") -> Failure:
    """`entry` fails with `kind` for requests due in [start, end)."""

    def fail(e: str, due: float) -> str | None:
        return kind if e == entry and start <= due < end else None

    return fail


def stream(
    rate: float,
    duration: float,
    entries: Iterable[str] = ENTRIES,
    *,
    fail: Failure = never,
    lag: Callable[[float], float] = no_lag,
    service_time: float = 0.002,
) -> list[RequestRecord]:
    """Request k is due at k / rate and goes to the entries in turn; `lag(due)` delays its sending."""
    names = list(entries)
    out = []
    for k in range(round(rate * duration)):
        due = k / rate
        target = names[k % len(names)]
        error = fail(target, due)
        sent = due + lag(due)
        outcome: Outcome = "ok" if error is None else "info" if error == "timeout" else "fail"
        out.append(
            RequestRecord(
                k=k,
                due=due,
                sent=sent,
                end=sent + service_time,
                target=target,
                outcome=outcome,
                status=200 if error is None else None,
                error=error,
            )
        )
    return out


def node(t: float, name: str, state: str) -> Event:
    return event(t, "node", {"node": name, "state": state, "availability": "active", "role": "manager"})


def leader(t: float, name: str | None, previous: str | None = None) -> Event:
    return event(t, "leader", {"node": name, "previous": previous})


def task(t: float, task_id: str, state: str, desired: str = "running", on: str = "node1") -> Event:
    return event(
        t, "task", {"task": task_id, "service": "ptp-web", "slot": 1, "node": on, "state": state, "desired": desired}
    )


def control_plane(t: float, available: bool, error: str | None = None) -> Event:
    data: dict[str, Any] = {"available": available, "manager": "node1"}
    if error:
        data["error"] = error
    return event(t, "control_plane", data)


def fault(t: float, action: str, name: str = "node3") -> Event:
    return event(t, "fault", {"action": action, "kind": "nic-down", "node": name, "evidence": {}})


def run(
    requests: Iterable[RequestRecord] = (),
    events: Iterable[Event] = (),
    *,
    phases: dict[str, float] | None = None,
    fault_node: str | None = "node3",
    status: str = "complete",
    rate: float = 200,
    workload: dict[str, Any] | None = None,
    analysis: dict[str, Any] | None = None,
) -> Run:
    fault_info = {"kind": "nic-down", "target": fault_node, "node": fault_node} if fault_node else {"kind": "none"}
    meta = Meta(
        name="synthetic",
        started_at="2026-01-01T00:00:00+00:00",
        t0_monotonic=1000.0,
        status=status,
        entries={e: f"http://{e}:8080/" for e in ENTRIES},
        workload=workload or {},
        load={"rate": rate, "timeout": 1.0},
        fault=fault_info,
        analysis=analysis or {},
        phases=phases if phases is not None else {"steady": 0.0, "fault": 10.0, "revert": 20.0, "converged": 25.0,
                                                  "end": 30.0},
    )
    return Run(folder=Path("/nonexistent"), meta=meta, requests=list(requests), events=numbered(events))
