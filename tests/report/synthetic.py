"""A plausible 60 s run, written with RunWriter: 3 entries at 100 req/s in all, nic-down on node3 from 20 s
to 40 s (only requests toward node3 fail), node3 lost and back, a leader change, a task move, a
control-plane window, and two SLOs: availability passes, max_outage fails.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

from pulltheplug.records.events import Event, event, numbered
from pulltheplug.records.folder import RunWriter
from pulltheplug.records.model import Meta, Outcome, RequestRecord, Run

NODES = ("node1", "node2", "node3")
RATE = 100.0
DURATION = 60.0
TIMEOUT = 1.0
FAULT = (20.0, 40.0)  # inject, revert
FAILING_SLOS: dict[str, Any] = {"availability": 0.8, "max_outage": 5.0, "recover_within": None, "p99_latency": None}
# over the fault and recovery phases: 0.833 for the whole run, 0.667 for one interrupted at 35 s
PASSING_SLOS: dict[str, Any] = {"availability": 0.6}


def error_of(target: str, due: float) -> str | None:
    """node3's address stops answering: timeouts at first, then unreachable once ARP gives up."""
    if target != "node3" or not FAULT[0] <= due < FAULT[1]:
        return None
    return "timeout" if due < 30.0 else "unreachable"


def requests(until: float = DURATION, seed: int = 7) -> list[RequestRecord]:
    rng = random.Random(seed)
    out = []
    for k in range(round(RATE * until)):
        due = k / RATE
        target = NODES[k % len(NODES)]
        error = error_of(target, due)
        sent = due + rng.uniform(0.0, 0.0004)
        outcome: Outcome = "ok" if error is None else "info" if error == "timeout" else "fail"
        if outcome == "ok":
            service = 0.0015 + rng.expovariate(1 / 0.0015) + (0.04 * rng.random() if 21.0 <= due < 24.0 else 0.0)
            end = sent + service
        else:
            end = sent + (TIMEOUT if outcome == "info" else 0.003)
        out.append(RequestRecord(k=k, due=due, sent=sent, end=end, target=target, outcome=outcome,
                                 status=200 if outcome == "ok" else None, error=error,
                                 node=target if outcome == "ok" else None,
                                 task=f"t{NODES.index(target) + 1}" if outcome == "ok" else None))
    return out


def _node(t: float, name: str, state: str, manager: str) -> Event:
    return event(t, "node", {"node": name, "state": state, "availability": "active", "role": "manager",
                             "manager": manager})


def _task(t: float, task: str, on: str, state: str, desired: str = "running") -> Event:
    return event(t, "task", {"task": task, "service": "ptp-web", "slot": int(task[1:]) if task != "t4" else 3,
                             "node": on, "state": state, "desired": desired})


def events(until: float = DURATION) -> list[Event]:
    """Everything the observer and the runner would have written, cut at `until` (an interrupted run)."""
    inject, revert = FAULT
    if until < revert:
        revert = until  # an interrupted run reverts the fault on its way out
    es = [
        event(0.0, "run", {"action": "start"}),
        event(0.01, "phase", {"phase": "steady"}),
        event(0.2, "control_plane", {"available": True, "manager": "node1"}),
        event(0.2, "observer", {"manager": "node1"}),
        _node(0.2, "node1", "ready", "reachable"),
        _node(0.2, "node2", "ready", "reachable"),
        _node(0.2, "node3", "ready", "leader"),
        event(0.2, "leader", {"node": "node3", "previous": None}),
        _task(0.2, "t1", "node1", "running"),
        _task(0.2, "t2", "node2", "running"),
        _task(0.2, "t3", "node3", "running"),
        event(inject, "phase", {"phase": "fault"}),
        event(inject, "fault", {"action": "inject", "kind": "nic-down", "node": "node3"}),
        event(inject + 0.05, "fault", {"action": "injected", "kind": "nic-down", "node": "node3",
                                       "evidence": {"eth0_up": False}}),
        event(21.0, "control_plane", {"available": False, "manager": None,
                                      "error": "node1: ReadTimeout: read timed out; node2: ReadTimeout"}),
        event(23.5, "control_plane", {"available": True, "manager": "node1"}),
        event(23.5, "leader", {"node": "node1", "previous": "node3"}),
        _node(23.5, "node1", "ready", "leader"),
        _node(23.5, "node3", "ready", "unreachable"),
        _node(25.0, "node3", "unknown", "unreachable"),
        _node(30.0, "node3", "down", "unreachable"),
        _task(31.0, "t3", "node3", "running", desired="shutdown"),
        _task(31.0, "t4", "node1", "assigned"),
        _task(32.5, "t4", "node1", "running"),
        event(revert, "phase", {"phase": "recovery"}),
        event(revert, "fault", {"action": "revert", "kind": "nic-down", "node": "node3"}),
        event(revert + 0.1, "fault", {"action": "reverted", "kind": "nic-down", "node": "node3",
                                      "evidence": {"eth0_up": True}}),
        _node(44.0, "node3", "ready", "reachable"),
        _task(44.5, "t3", "node3", "shutdown", desired="shutdown"),
        event(60.0, "phase", {"phase": "end"}),
        event(60.0, "run", {"action": "end"}),
    ]
    kept = [e for e in es if e.t <= until or (e.type == "fault" and e.t <= revert + 0.1)]
    if until < DURATION:
        kept.append(event(revert + 0.1, "run", {"action": "interrupted"}))
    return kept


def meta(slo: dict[str, Any], interrupted: bool) -> Meta:
    phases = {"steady": 0.01, "fault": FAULT[0], "revert": FAULT[1], "converged": 50.0, "end": DURATION}
    return Meta(
        name="nic-down-node3",
        started_at="2026-03-01T12:00:00.000+00:00",
        t0_monotonic=5000.0,
        status="interrupted" if interrupted else "complete",
        cluster={"name": "lab", "kind": "lab", "engine_version": "27.5.1", "subnet": "10.77.0.0/24",
                 "nodes": [{"name": n, "address": f"10.77.0.{11 + i}", "role": "manager"}
                           for i, n in enumerate(NODES)],
                 "leader_at_start": "node3"},
        entries={n: f"http://10.77.0.{11 + i}:8080/" for i, n in enumerate(NODES)},
        workload={"service": "ptp-web", "replicas": 3, "port": 8080, "image": "ptp-probe:latest"},
        load={"rate": RATE, "timeout": TIMEOUT},
        fault={"kind": "nic-down", "target": "node3", "duration": FAULT[1] - FAULT[0], "node": "node3", "seed": 7,
               "candidates": ["node3"]},
        phases={} if interrupted else phases,
        slo=slo,
    )


def synthetic_run(slo: dict[str, Any] | None = None, interrupted_at: float | None = None) -> Run:
    """The run in memory; `interrupted_at`: Ctrl-C at that second (records stop there, meta has no phases)."""
    until = DURATION if interrupted_at is None else interrupted_at
    return Run(folder=Path("/nonexistent"), meta=meta(FAILING_SLOS if slo is None else slo, interrupted_at is not None),
               requests=requests(until), events=numbered(events(until)))


def write_run(folder: Path, run: Run) -> Path:
    writer = RunWriter(folder, run.meta, "name: nic-down-node3\n")
    for r in run.requests:
        writer.request(r)
    for e in run.events:
        writer.event(e)
    writer.close()
    return folder
