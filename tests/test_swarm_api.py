"""Engine API objects read as plain rows; partial objects (a node still joining) are 'not ready yet'."""

from __future__ import annotations

from typing import Any

from pulltheplug.swarm.api import leader_of, node_row, node_rows, task_row


def _node(name: str, leader: bool = False) -> dict[str, Any]:
    return {"ID": f"id-{name}", "Description": {"Hostname": name},
            "Spec": {"Role": "manager", "Availability": "active"}, "Status": {"State": "ready", "Addr": "10.0.0.1"},
            "ManagerStatus": {"Leader": leader, "Reachability": "reachable"}}


def test_a_node_that_just_joined_is_left_out_not_a_crash() -> None:
    joining = {"ID": "id-new", "Spec": {"Role": "worker", "Availability": "active"}, "Status": {"State": "unknown"}}
    assert node_row(joining) is None
    rows = node_rows([_node("node1", leader=True), joining, _node("node2")])
    assert [r["name"] for r in rows] == ["node1", "node2"]
    assert rows[0]["manager"] == "leader" and rows[1]["manager"] == "reachable"
    assert leader_of([joining, _node("node2", leader=True)]) == "node2"
    assert leader_of([joining]) is None


def test_a_task_without_status_is_left_out() -> None:
    full = {"ID": "t1", "Slot": 1, "NodeID": "id-node1", "Status": {"State": "running"}, "DesiredState": "running"}
    assert task_row(full) == {"id": "t1", "slot": 1, "node_id": "id-node1", "state": "running", "desired": "running"}
    assert task_row({"ID": "t2", "DesiredState": "running"}) is None
