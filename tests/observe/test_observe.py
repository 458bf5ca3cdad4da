"""The observer's judgement on synthetic poll sequences: quorum, stale leaders, events on change only."""

from __future__ import annotations

from typing import Any

from pulltheplug.cluster.seam import ClusterNode
from pulltheplug.observe.observer import Observer
from pulltheplug.observe.quorum import Answer
from pulltheplug.records.events import Event
from pulltheplug.swarm.api import leader_of


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


def answer(obs: Observer, manager: str, at: float, nodes: list[dict[str, Any]],
           tasks: list[dict[str, Any]] | None = None) -> None:
    """A poll of `manager` started and answered at `at`."""
    p = next(p for p in obs._pollers if p.manager == manager)
    p.state = p.state.asking(at).answered(Answer(at, leader_of(nodes), nodes, tasks or []), obs.staleness)


def hang(obs: Observer, manager: str, since: float) -> None:
    """A poll of `manager` started at `since` and has not answered."""
    p = next(p for p in obs._pollers if p.manager == manager)
    p.state = p.state.asking(since)


def test_a_lone_stale_leader_is_not_a_control_plane() -> None:
    obs, events, clock = make()
    for m in ("node1", "node2", "node3"):
        answer(obs, m, 0.0, view("node1"))
    obs.merge()
    assert obs.snapshot().control_plane is True and obs.snapshot().leader == "node1"
    # node1 is cut off but still answers, naming itself leader; the others hang from 0.25 on
    clock.now = 5.0
    answer(obs, "node1", 5.0, view("node1"))
    hang(obs, "node2", 0.25)
    hang(obs, "node3", 0.25)
    obs.merge()
    cp = [e for e in events if e.type == "control_plane"]
    assert [(e.t, e.data["available"]) for e in cp] == [(0.0, True), (0.25, False)]
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
    for m in ("node1", "node2", "node3"):
        answer(obs, m, 0.0, view("node1"), [running, old, moving])
    obs.merge()
    v = obs.snapshot()
    assert v.running_tasks() == 2 and not v.tasks_settled(2)
    gone = {**old, "DesiredState": "shutdown", "Status": {"State": "shutdown"}}
    arrived = {**moving, "NodeID": "id-node2", "Status": {"State": "running"}, "DesiredState": "running"}
    clock.now = 1.0
    for m in ("node1", "node2", "node3"):
        answer(obs, m, 1.0, view("node1"), [running, gone, arrived])
    obs.merge()
    assert obs.snapshot().tasks_settled(2)


def poll_sequence(obs: Observer, clock: Clock, until: float, leader_at: Any) -> None:
    """Every manager polled every 0.25 s (an answer 0.02 s after the poll starts), merged every 0.25 s.

    `leader_at(manager, t)`: the leader a poll started at t names, or None when that poll never answers.
    """
    step = 0.01
    asked: dict[str, float | None] = {p.manager: None for p in obs._pollers}  # start of the poll in flight
    due = {p.manager: 0.0 for p in obs._pollers}
    for i in range(round(until / step) + 1):
        clock.now = t = round(i * step, 6)
        for p in obs._pollers:
            started = asked[p.manager]
            if started is not None and started + 0.02 <= t + 1e-9:
                said = leader_at(p.manager, started)
                if said is not None:
                    p.state = p.state.answered(Answer(t, said, view(said), []), obs.staleness)
                    asked[p.manager] = None
                    due[p.manager] = started + 0.25
            if asked[p.manager] is None and t >= due[p.manager] - 1e-9:
                p.state = p.state.asking(t)
                asked[p.manager] = t
        if i % 25 == 10:
            obs.merge()


def test_the_window_starts_at_the_first_unanswered_poll() -> None:
    obs, events, clock = make()
    # node1 leads; from t=10.0 no manager answers (the leader is gone, the others wait for an election)
    poll_sequence(obs, clock, 14.0, lambda m, t: "node1" if t < 10.0 else None)
    cp = [e for e in events if e.type == "control_plane"]
    assert [e.data["available"] for e in cp] == [True, False]
    assert 10.0 <= cp[-1].t <= 10.0 + obs.interval
    silent = {e.data["manager"]: e.t for e in events if e.type == "manager" and not e.data["answering"]}
    assert sorted(silent) == ["node1", "node2", "node3"]
    assert all(10.0 <= t <= 10.0 + obs.interval for t in silent.values())


def test_two_answering_managers_that_disagree_are_no_quorum() -> None:
    obs, events, clock = make()
    for m in ("node1", "node2", "node3"):
        answer(obs, m, 0.0, view("node1"))
    obs.merge()
    # node3 is silent; node1 still names itself, node2 already names node2
    clock.now = 5.0
    answer(obs, "node1", 5.0, view("node1"))
    answer(obs, "node2", 5.0, view("node2", down="node1"))
    hang(obs, "node3", 3.0)
    obs.merge()
    v = obs.snapshot()
    assert v.control_plane is False and v.leader == "node1" and v.nodes["node1"]["state"] == "ready"
    cp = [e for e in events if e.type == "control_plane"]
    assert [(e.t, e.data["available"]) for e in cp] == [(0.0, True), (5.0, False)]  # when node2 named node2
    assert "node1 (says leader node1)" in cp[-1].data["error"] and "node2 (says leader node2)" in cp[-1].data["error"]


def test_two_agreeing_managers_of_three_are_a_quorum_with_their_view() -> None:
    obs, events, clock = make()
    for m in ("node1", "node2", "node3"):
        answer(obs, m, 0.0, view("node1"))
    obs.merge()
    # node1 is silent; node2 and node3 agree on node2 and see node1 down
    clock.now = 5.0
    hang(obs, "node1", 3.0)
    answer(obs, "node2", 5.0, view("node2", down="node1"))
    answer(obs, "node3", 4.9, view("node2", down="node1"))
    obs.merge()
    v = obs.snapshot()
    assert v.control_plane is True and v.leader == "node2" and v.nodes["node1"]["state"] == "down"
    assert v.manager in ("node2", "node3")
    assert [e.data["available"] for e in events if e.type == "control_plane"] == [True]
