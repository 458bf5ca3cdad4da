"""HAProxy's config, its `show stat` answer, the door's figures and the watcher, on recorded and synthetic data."""

from __future__ import annotations

from pathlib import Path

import pytest

from pulltheplug.analysis.door import door_figures
from pulltheplug.cluster.seam import ClusterNode
from pulltheplug.doors.haproxy import down_bound, haproxy_config, parse_stat, state_of
from pulltheplug.doors.watch import DoorWatcher
from pulltheplug.records.events import Event, event
from pulltheplug.records.model import RequestRecord
from pulltheplug.spec import HaproxySpec, WorkloadSpec

NODES = [ClusterNode("node1", "10.213.0.2", "manager"), ClusterNode("node2", "10.213.0.3", "worker")]

# `show stat` as HAProxy 2.6 answered it in the lab, cut to the columns that matter and two more
STAT = """# pxname,svname,qcur,status,check_status,lastchg
door,FRONTEND,,OPEN,,
swarm,node1,0,UP,L7OK,12
swarm,node2,0,UP 1/2,* L4TOUT,0
swarm,node3,0,DOWN,L4TOUT,3
swarm,node4,0,UP,INI,0
swarm,BACKEND,0,UP,,12
other,node1,0,DOWN,L4CON,1
"""


def test_config_checks_every_node_with_the_spec_timing() -> None:
    settings = HaproxySpec(inter=0.5, fall=2, rise=3, connect_timeout=0.25, redispatch=True)
    cfg = haproxy_config(NODES, "10.213.0.254", 8080, "/health", settings, 1.5, Path("/x/haproxy.sock"))
    assert "bind 10.213.0.254:8080" in cfg
    assert "option httpchk GET /health" in cfg
    assert "default-server inter 500ms fall 2 rise 3" in cfg
    assert "timeout connect 250ms" in cfg and "timeout server 1500ms" in cfg
    assert "option redispatch" in cfg
    assert "server node1 10.213.0.2:8080 check" in cfg and "server node2 10.213.0.3:8080 check" in cfg
    assert "stats socket /x/haproxy.sock" in cfg
    assert "option redispatch" not in haproxy_config(NODES, "a", 80, "/", HaproxySpec(), 1, Path("s"))


def test_defaults_are_haproxys_and_the_bound_follows_from_them() -> None:
    s = HaproxySpec()
    assert (s.inter, s.fall, s.rise) == (2.0, 3, 2)
    assert down_bound(s) == pytest.approx(4 * 2.0 + 1.0)
    assert down_bound(HaproxySpec(inter=0.5, fall=2, connect_timeout=0.5)) == pytest.approx(2.0)


def test_show_stat_is_read_per_server_of_the_backend() -> None:
    assert parse_stat(STAT) == {
        "node1": {"state": "up", "check": "L7OK"},
        "node2": {"state": "going_down", "check": "L4TOUT"},
        "node3": {"state": "down", "check": "L4TOUT"},
        "node4": {"state": "starting", "check": "INI"},
    }
    with pytest.raises(ValueError):
        parse_stat("Unknown command\n")


def test_state_words() -> None:
    assert [state_of(s) for s in ("UP", "DOWN", "UP 2/3", "DOWN 1/2", "MAINT", "no check", "")] == [
        "up", "down", "going_down", "going_up", "maint", "no_check", "unknown"]


def test_entry_spec_short_form_and_entries_only_for_nodes() -> None:
    assert WorkloadSpec.model_validate({"entry": "haproxy"}).entry.kind == "haproxy"
    with pytest.raises(ValueError, match="entries are for entry kind nodes"):
        WorkloadSpec.model_validate({"entry": "haproxy", "entries": ["http://10.0.0.1/"]})
    with pytest.raises(ValueError):
        WorkloadSpec.model_validate({"entry": "dns"})


def _req(due: float, outcome: str) -> RequestRecord:
    return RequestRecord(k=int(due * 100), target="haproxy", due=due, sent=due, end=due + 0.01,
                         outcome=outcome, status=200 if outcome == "ok" else None,  # type: ignore[arg-type]
                         error=None if outcome == "ok" else "timeout")


def test_door_figures_from_a_synthetic_history() -> None:
    door = {"kind": "haproxy", "address": "10.213.0.254", "down_bound": 2.0}
    events = [event(0.1, "door", {"door": "haproxy", "backend": "node2", "state": "up"}),
              event(3.8, "door", {"door": "haproxy", "backend": "node2", "state": "going_down"}),
              event(4.8, "door", {"door": "haproxy", "backend": "node1", "state": "down"}),  # another node
              event(4.82, "door", {"door": "haproxy", "backend": "node2", "state": "down"}),
              event(11.3, "door", {"door": "haproxy", "backend": "node2", "state": "going_up"}),
              event(11.85, "door", {"door": "haproxy", "backend": "node2", "state": "up"})]
    requests = [_req(1.0, "fail"), _req(3.1, "info"), _req(3.2, "ok"), _req(4.6, "fail"), _req(6.0, "ok")]
    d = door_figures(door, "node2", 3.05, 11.05, requests, events)
    assert d is not None
    assert d.routed_around_after_fault_start == pytest.approx(1.77)
    assert d.back_after_revert == pytest.approx(0.8)
    assert d.errors_after_fault_start == 2  # the failure before the fault is not the door's
    assert d.last_error_after_fault_start == pytest.approx(1.55)
    assert d.down_bound == 2.0
    assert door_figures({}, "node2", 3.0, 11.0, requests, events) is None
    never = door_figures(door, "node2", 3.05, 11.05, [_req(4.0, "ok")], events[:2])
    assert never is not None and never.routed_around_after_fault_start is None
    assert never.errors_after_fault_start == 0 and never.last_error_after_fault_start is None


class _Door:
    kind = "haproxy"

    def __init__(self, answers: list[dict[str, dict[str, str]] | OSError]) -> None:
        self.answers = answers

    def backends(self) -> dict[str, dict[str, str]]:
        answer = self.answers.pop(0)
        if isinstance(answer, OSError):
            raise answer
        return answer

    def entries(self) -> dict[str, str]:
        return {}

    def describe(self) -> dict[str, object]:
        return {}

    def close(self) -> list[str]:
        return []


def test_the_watcher_writes_changes_only_and_a_silence_once() -> None:
    up, down = {"state": "up", "check": "L7OK"}, {"state": "down", "check": "L4TOUT"}
    door = _Door([{"node1": up, "node2": up}, {"node1": up, "node2": up}, {"node1": up, "node2": down},
                  OSError("gone"), OSError("gone"), {"node1": up, "node2": down}])
    seen: list[Event] = []
    ticks = iter(range(10))
    watcher = DoorWatcher(door, lambda: float(next(ticks)), seen.append, 0.1)
    for _ in range(6):
        watcher.poll()
    assert [(e.t, e.data.get("backend"), e.data["state"]) for e in seen] == [
        (0.0, "node1", "up"), (0.0, "node2", "up"), (2.0, "node2", "down"), (3.0, None, "silent")]
