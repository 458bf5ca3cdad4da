"""A run's events as typed models with ids: written, read back, read from folders made before ids, shared across
threads, cited by findings."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from pulltheplug.analysis import summarize
from pulltheplug.records.events import (
    MODELS,
    ControlPlaneEvent,
    DoorEvent,
    FaultEvent,
    LeaderEvent,
    NodeEvent,
    OtherEvent,
    TaskEvent,
    event_from_dict,
    event_to_dict,
)
from pulltheplug.records.folder import RunWriter, load_run
from pulltheplug.records.model import EVENTS, Meta


def _writer(tmp_path: Path) -> RunWriter:
    return RunWriter(tmp_path / "run", Meta(name="t", started_at="2026-01-01T00:00:00", t0_monotonic=0.0), "")


def test_every_model_reads_back_what_it_wrote() -> None:
    events = [
        NodeEvent(t=1.0, seq=1, node="node3", state="down", availability="active", role="manager",
                  manager="unreachable"),
        LeaderEvent(t=2.0, seq=2, node=None, previous="node3"),
        TaskEvent(t=3.0, seq=3, task="abc", service="ptp-web", slot=2, node="node1", state="running",
                  desired="running"),
        ControlPlaneEvent(t=4.0, seq=4, available=False, error="1 of 3 managers answer"),
        FaultEvent(t=5.0, seq=5, action="injected", id=1, kind="nic-down", node="node2", nodes=("node2",),
                   evidence={"operstate": "down"}),
        DoorEvent(t=6.0, seq=6, door="haproxy", backend="node2", state="down", check="L4TOUT"),
    ]
    lines = [json.loads(json.dumps(event_to_dict(e))) for e in events]
    assert [event_from_dict(d) for d in lines] == events
    assert set(MODELS) >= {e.type for e in events}


def test_no_leader_is_written_as_null_and_an_absent_field_is_left_out() -> None:
    assert event_to_dict(LeaderEvent(t=1.0, seq=1, node=None, previous="node1")) == {
        "t": 1.0, "seq": 1, "type": "leader", "node": None, "previous": "node1"}
    assert "check" not in event_to_dict(DoorEvent(t=1.0, door="vip", backend="node1", state="MASTER"))


def test_unknown_keys_and_types_survive_a_round_trip() -> None:
    newer = {"t": 1.5, "seq": 7, "type": "node", "node": "node1", "state": "ready", "hostname": "pi1"}
    e = event_from_dict(newer)
    assert isinstance(e, NodeEvent) and e.extra == {"hostname": "pi1"}
    assert event_to_dict(e) == {**newer, "availability": "", "role": "", "manager": ""}
    alien = event_from_dict({"t": 2.0, "seq": 8, "type": "kubelet", "pod": "web-1"})
    assert isinstance(alien, OtherEvent) and alien.type == "kubelet"
    assert event_to_dict(alien) == {"t": 2.0, "seq": 8, "type": "kubelet", "pod": "web-1"}


def test_a_known_type_without_its_required_field_is_kept_not_judged() -> None:
    e = event_from_dict({"t": 1.0, "type": "fault", "kind": "nic-down"}, line=3)
    assert isinstance(e, OtherEvent) and e.seq == 3 and e.extra == {"kind": "nic-down"}


def test_a_fault_event_without_nodes_touches_its_node() -> None:
    e = event_from_dict({"t": 1.0, "type": "fault", "action": "inject", "node": "node4"})
    assert isinstance(e, FaultEvent) and e.touched == ("node4",) and e.id == 0


def test_the_writer_gives_every_event_its_own_id_across_threads(tmp_path: Path) -> None:
    writer = _writer(tmp_path)

    def emit(node: str) -> None:
        for i in range(200):
            writer.event(NodeEvent(t=float(i), node=node, state="ready"))

    threads = [threading.Thread(target=emit, args=(f"node{n}",)) for n in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    writer.close()
    lines = [json.loads(x) for x in (tmp_path / "run" / EVENTS).read_text().splitlines()]
    assert [d["seq"] for d in lines] == list(range(1, 801))
    assert [e.seq for e in load_run(tmp_path / "run").events] == list(range(1, 801))


def test_a_folder_written_before_ids_reads_them_as_line_numbers(tmp_path: Path) -> None:
    writer = _writer(tmp_path)
    writer.close()
    old = [{"t": 0.5, "type": "leader", "node": "node1", "previous": None},
           {"t": 1.0, "type": "node", "node": "node2", "state": "ready"}]
    (tmp_path / "run" / EVENTS).write_text("".join(json.dumps(d) + "\n" for d in old) + '{"t": 2.0, "ty')
    events = load_run(tmp_path / "run").events
    assert [(type(e), e.seq) for e in events] == [(LeaderEvent, 1), (NodeEvent, 2)]  # the torn line is skipped


@pytest.mark.parametrize("first_id", [1, 41])
def test_findings_cite_the_ids_the_events_were_written_with(tmp_path: Path, first_id: int) -> None:
    """A node lost twice for one fault: the flapping finding names the two losses by their ids, whatever
    came before them in the file."""
    writer = _writer(tmp_path)
    writer.meta.fault = {"kind": "nic-down", "node": "node3"}
    writer.meta.phases = {"fault": 10.0, "revert": 30.0, "end": 40.0}
    for i in range(first_id - 1):
        writer.event(TaskEvent(t=0.1, task=f"t{i}", node="node1", state="running", desired="running"))
    writer.event(FaultEvent(t=10.0, action="inject", kind="nic-down", node="node3"))
    first = writer.event(NodeEvent(t=15.0, node="node3", state="down"))
    writer.event(NodeEvent(t=18.0, node="node3", state="ready"))
    second = writer.event(NodeEvent(t=22.0, node="node3", state="down"))
    writer.event(FaultEvent(t=30.0, action="revert", kind="nic-down", node="node3"))
    writer.close()
    summary = summarize(load_run(tmp_path / "run"))
    flap = next(f for f in summary.findings if f.rule == "flapping")
    assert flap.found and flap.events == [first.seq, second.seq] == [first_id + 1, first_id + 3]
