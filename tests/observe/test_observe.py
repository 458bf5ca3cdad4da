"""The observer's judgement on synthetic manager answers: quorum, stale leaders, events on change only."""

from __future__ import annotations

from typing import Any

from pulltheplug.cluster import ClusterNode
from pulltheplug.observe import Observer, _Answer
from pulltheplug.record import Event


class FakeCluster:
    name = "fake"

    def nodes(self) -> list[ClusterNode]:
        return [ClusterNode(f"node{i}", f"10.0.0.{i}", "manager") for i in (1, 2, 3)] + [
            ClusterNode("node4", "10.0.0.4", "worker")
        ]


def node(name: str, state: str = "ready", leader: bool = False, role: str = "manager") -> dict[str, Any]:
    ms = {"Leader": True, "Reachability": "reachable"} if leader else {"Reachability": "reachable"}
    return {"ID": f"id-{name}", "Description": {"Hostname": name}, "Status": {"State": state},
            "Spec": {"Availability": "active", "Role": role}, "ManagerStatus": ms if role == "manager" else None}


def view(leader: str, down: str | None = None) -> list[dict[str, Any]]:
    return [node(n, "down" if n == down else "ready", n == leader, "manager" if n != "node4" else "worker")
            for n in ("node1", "node2", "node3", "node4")]


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


def make() -> tuple[Observer, list[Event], Clock]:
    events: list[Event] = []
    clock = Clock()
    obs = Observer(FakeCluster(), None, clock, events.append, interval=0.25)  # type: ignore[arg-type]
    return obs, events, clock


def answer(obs: Observer, manager: str, at: float, nodes: list[dict[str, Any]]) -> None:
    next(p for p in obs._pollers if p.manager == manager).answer = _Answer(at, nodes, [])


def test_a_lone_stale_leader_is_not_a_control_plane() -> None:
    obs, events, clock = make()
    for m in ("node1", "node2", "node3"):
        answer(obs, m, 0.0, view("node1"))
    obs.merge()
    assert obs.snapshot().control_plane is True and obs.snapshot().leader == "node1"
    # node1 is cut off but still answers, naming itself leader; the others hang (no fresh answer)
    clock.now = 5.0
    answer(obs, "node1", 5.0, view("node1"))
    obs.merge()
    cp = [e for e in events if e.type == "control_plane"]
    assert [e.data["available"] for e in cp] == [True, False]
    assert "1 of 3 managers answer" in cp[-1].data["error"]
    silent = [e.data["manager"] for e in events if e.type == "manager" and not e.data["answering"]]
    assert sorted(silent) == ["node2", "node3"]
    # the majority elects node2 and sees node1 down; the stale node1 still names itself leader
    clock.now = 12.0
    answer(obs, "node1", 12.0, view("node1"))
    answer(obs, "node2", 12.0, view("node2", down="node1"))
    answer(obs, "node3", 11.9, view("node2", down="node1"))
    obs.merge()
    v = obs.snapshot()
    assert v.control_plane is True and v.leader == "node2" and v.nodes["node1"]["state"] == "down"
    leaders = [(e.data["previous"], e.data["node"]) for e in events if e.type == "leader"]
    assert leaders == [(None, "node1"), ("node1", "node2")]


def test_events_only_on_change() -> None:
    obs, events, clock = make()
    for t in (0.0, 0.25, 0.5):
        clock.now = t
        for m in ("node1", "node2", "node3"):
            answer(obs, m, t, view("node1"))
        obs.merge()
    assert len([e for e in events if e.type == "node"]) == 4
    assert len([e for e in events if e.type == "observer"]) == 1
    clock.now = 0.75
    for m in ("node1", "node2", "node3"):
        answer(obs, m, 0.75, view("node1", down="node4"))
    obs.merge()
    changed = [e for e in events if e.type == "node" and e.t == 0.75]
    assert [(e.data["node"], e.data["state"]) for e in changed] == [("node4", "down")]


def test_tasks_on_their_way_are_not_settled() -> None:
    obs, _, clock = make()
    running = {"ID": "t1", "Slot": 1, "NodeID": "id-node1", "Status": {"State": "running"}, "DesiredState": "running"}
    moving = {"ID": "t2", "Slot": 2, "NodeID": "", "Status": {"State": "pending"}, "DesiredState": "ready"}
    old = {"ID": "t0", "Slot": 2, "NodeID": "id-node2", "Status": {"State": "running"}, "DesiredState": "running"}
    for p in obs._pollers:
        p.answer = _Answer(0.0, view("node1"), [running, old, moving])
    obs.merge()
    v = obs.snapshot()
    assert v.running_tasks() == 2 and not v.tasks_settled(2)
    gone = {**old, "DesiredState": "shutdown", "Status": {"State": "shutdown"}}
    arrived = {**moving, "NodeID": "id-node2", "Status": {"State": "running"}, "DesiredState": "running"}
    clock.now = 1.0
    for p in obs._pollers:
        p.answer = _Answer(1.0, view("node1"), [running, gone, arrived])
    obs.merge()
    assert obs.snapshot().tasks_settled(2)
