"""Experiments end to end on the real 4-node lab (node1, node2, node3 managers; node4 a worker)."""

from __future__ import annotations

import datetime as dt
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pulltheplug.analysis.node_loss import is_lost
from pulltheplug.lab import lab as labmod
from pulltheplug.records.folder import load_run
from pulltheplug.records.model import Run
from pulltheplug.run import experiment
from pulltheplug.spec import parse_spec

pytestmark = pytest.mark.lab

FAST = """
name: {name}
cluster: {{lab: ptpt}}
workload: {{service: e2e-probe, port: 8090}}
load: {{rate: 100, timeout: 500ms}}
fault: {{kind: {kind}, target: {target}, duration: {duration}}}
phases: {{steady: 3s, settle: 3s, timeout: 120s}}
"""


def run(lab: labmod.Lab, tmp_path: Path, kind: str, target: str, duration: str) -> Path:
    text = FAST.format(name=f"e2e-{kind}", kind=kind, target=target, duration=duration)
    return experiment.execute(parse_spec(text), text, lab, tmp_path)


def test_nic_down_of_a_worker(lab: labmod.Lab, tmp_path: Path) -> None:
    folder = run(lab, tmp_path, "nic-down", "random-worker", "20s")
    r = load_run(folder)
    assert r.meta.status == "complete" and r.meta.fault["node"] == "node4"
    bad = [q for q in r.requests if q.outcome != "ok"]
    assert bad, "taking eth0 down made no request fail"
    assert {q.target for q in bad} == {"node4"}  # only that node's entry point suffered
    fault_start, revert = r.meta.phases["fault"], r.meta.phases["revert"]
    assert all(q.due >= fault_start for q in bad)  # a clean steady state
    # eth0 down: node4 answers nothing during the fault (after the revert Swarm may still restart its task), from
    # when the fault says eth0 was down (the inject can take 0.2 s on a loaded machine)
    down = next(e.t for e in r.events if e.type == "fault" and e.data.get("action") == "injected")
    during = [q for q in r.requests if q.target == "node4" and down < q.due < revert]
    assert during and all(q.outcome != "ok" for q in during)
    node4 = [e for e in r.events if e.type == "node" and e.data["node"] == "node4"]
    left = [e for e in node4 if e.t > fault_start and is_lost(e.data["state"])]  # Unknown is no loss
    assert left, "the swarm never showed node4 leaving"
    assert any(e.t > left[0].t and e.data["state"] == "ready" for e in node4), "node4 never came back"
    assert lab.nic_is_up("node4")
    # every due request has one record, none vanished
    ks = sorted(q.k for q in r.requests)
    assert ks == list(range(len(ks)))
    assert (folder / "summary.json").exists()
    _the_return_is_an_aftershock(lab, r, revert)


def _wall(stamp: str) -> dt.datetime:
    """An RFC 3339 time from the Engine API (nanoseconds, "Z") or the run's meta."""
    head, _, frac = stamp.replace("Z", "+00:00").partition(".")
    if not frac:
        return dt.datetime.fromisoformat(head)
    digits = frac[:len(frac) - len(frac.lstrip("0123456789"))]
    return dt.datetime.fromisoformat(f"{head}.{digits[:6]:0<6}{frac[len(digits):]}")


def _the_return_is_an_aftershock(lab: labmod.Lab, r: Run, revert: float) -> None:
    """The finding this lab gives every time a worker's NIC is down past its detection.

    Swarm marked node4 Down (about 11 s into the cut) and gave its task a replacement, Pending: every other
    node's host port is taken. The old container outlived the cut, so node4 answered again once its NIC was
    back; then Swarm stopped that container and started the replacement: a second outage of node4's share, a
    few seconds after the revert (2.2 to 4.7 s in the nic-down runs of a worker and a follower here, never in
    a power loss or a reboot, where the node's own restart is its recovery). That is an aftershock. It is held
    against node4's own dockerd: the old container's exit and the new one's start, on the run's clock.
    """
    summary = json.loads((r.folder / "summary.json").read_text())["summary"]
    (shock,) = [f for f in summary["findings"] if f["rule"] == "aftershock"]
    assert shock["verdict"] == "found", shock["text"]
    assert shock["nodes"] == ["node4"] and shock["start"] > revert
    (second,) = [w for w in summary["outages"] if w["start"] > revert]
    assert second["entry"] == "node4" and [second["first_k"], second["last_k"]] in shock["requests"]
    sock = lab.plan.node("node4").docker_host
    ids = subprocess.run(["docker", "-H", sock, "ps", "-aq", "--filter", "label=com.docker.swarm.service.name="
                          "e2e-probe"], capture_output=True, text=True, check=True).stdout.split()
    states = [c["State"] for c in json.loads(subprocess.run(["docker", "-H", sock, "inspect", *ids],
                                                            capture_output=True, text=True, check=True).stdout)]
    t0 = _wall(r.meta.started_at)

    def clock(stamp: str) -> float:
        return (_wall(stamp) - t0).total_seconds()

    fault_start = r.meta.phases["fault"]
    (old,) = [s for s in states if clock(s["StartedAt"]) < fault_start and clock(s["FinishedAt"]) > revert]
    (new,) = [s for s in states if clock(s["StartedAt"]) > revert]
    stopped, started = clock(old["FinishedAt"]), clock(new["StartedAt"])
    print(f"aftershock: outage {second['start']:.2f}-{second['end']:.2f} s; old container exited at {stopped:.2f} s, "
          f"the replacement started at {started:.2f} s")
    assert abs(second["start"] - stopped) < 0.5  # node4's share fails from the old container's exit...
    assert second["start"] < started < second["end"] + 0.5  # ...until the replacement answers


def test_power_loss_leaves_no_process_then_boots(lab: labmod.Lab, tmp_path: Path) -> None:
    folder = run(lab, tmp_path, "power-loss", "node4", "5s")
    r = load_run(folder)
    injected = next(e for e in r.events if e.type == "fault" and e.data["action"] == "injected")
    assert injected.data["evidence"]["processes_left"] == 0
    assert injected.data["evidence"]["killed"] >= 3  # dockerd, containerd, shim, the container...
    assert not injected.data["evidence"]["daemon_running"]
    assert "converged" in r.meta.phases
    assert lab.node_running("node4")
    assert {s.name: s.state for s in lab.status()}["node4"] == "ready"


def test_ctrl_c_mid_fault_reverts_and_keeps_the_run(lab: labmod.Lab, tmp_path: Path) -> None:
    cmd = [sys.executable, "-m", "pulltheplug", "run", "--lab", "ptpt", "--fault", "nic-down", "--target", "node4",
           "--duration", "60s", "--steady", "2s", "--rate", "50", "--runs-dir", str(tmp_path), "--name", "e2e-int"]
    spec = tmp_path / "spec.yaml"
    spec.write_text("workload: {service: e2e-probe, port: 8090}\n")
    proc = subprocess.Popen([*cmd, str(spec)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        events: list[dict[str, object]] = []
        while time.monotonic() < deadline and not any(e.get("action") == "injected" for e in events):
            time.sleep(0.2)
            files = list(tmp_path.glob("*-e2e-int/events.jsonl"))
            if files:
                events = [json.loads(x) for x in files[0].read_text().splitlines() if x.strip()]
        assert any(e.get("action") == "injected" for e in events), "the fault was never injected"
        assert not lab.nic_is_up("node4")
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
        lab.set_nic("node4", True)  # whatever happened, leave the shared lab whole
    assert proc.returncode == 130, err
    assert lab.nic_is_up("node4")
    r = load_run(next(tmp_path.glob("*-e2e-int")))
    assert r.meta.status == "interrupted"
    report = (r.folder / "report.html").read_text()  # rendered all the same, with a clear mark
    assert "INTERRUPTED" in report
    assert any(e.type == "fault" and e.data["action"] == "reverted" for e in r.events)
    assert r.requests and "revert" in r.meta.phases


def test_reboot_stops_gracefully_then_the_node_rejoins(lab: labmod.Lab, tmp_path: Path) -> None:
    folder = run(lab, tmp_path, "reboot", "node4", "5s")
    r = load_run(folder)
    injected = next(e for e in r.events if e.type == "fault" and e.data["action"] == "injected")
    assert injected.data["evidence"] == {"stopped": "graceful", "processes_left": 0, "daemon_running": False}
    # a graceful stop: the probe got SIGTERM and stopped at once (dockerd waited for nothing)
    assert injected.t - r.meta.phases["fault"] < 8
    assert "converged" in r.meta.phases and r.meta.status == "complete"
    assert {s.name: s.state for s in lab.status()}["node4"] == "ready"


def test_freeze_hangs_the_node_then_thaws_it(lab: labmod.Lab, tmp_path: Path) -> None:
    folder = run(lab, tmp_path, "freeze", "node4", "5s")
    r = load_run(folder)
    injected = next(e for e in r.events if e.type == "fault" and e.data["action"] == "injected")
    assert injected.data["evidence"]["frozen"] is True and injected.data["evidence"]["processes"] >= 3
    during = [q for q in r.requests if q.target == "node4" and r.meta.phases["fault"] + 0.1 < q.due
              < r.meta.phases["revert"] - 1.5]
    assert during and all(q.outcome != "ok" for q in during)  # a hung node answers nothing
    assert not lab.node_frozen("node4") and "converged" in r.meta.phases
