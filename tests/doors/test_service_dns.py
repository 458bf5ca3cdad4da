"""Swarm's DNS as a door: when it forgot the lost task, and the node the client runs on, on synthetic data."""

from __future__ import annotations

import asyncio

import pytest

from pulltheplug.analysis.door import door_figures
from pulltheplug.cluster.seam import ClusterNode
from pulltheplug.doors.service_dns import SwarmResolver
from pulltheplug.errors import SpecError
from pulltheplug.faults.targets import pick_target
from pulltheplug.records.events import Event, event


def _answer(t: float, addresses: str) -> Event:
    return event(t, "door", {"door": "service-dns", "backend": "web", "state": "answer", "addresses": addresses})


def test_the_dns_forgot_the_task_when_it_named_fewer_and_came_back_when_it_named_as_many() -> None:
    door = {"kind": "service-dns", "address": "web", "down_bound": None}
    four = "10.0.1.2,10.0.1.3,10.0.1.4,10.0.1.5"
    events = [_answer(0.5, four), _answer(19.0, "10.0.1.2,10.0.1.4,10.0.1.5"), _answer(40.0, four)]
    d = door_figures(door, "node2", 3.0, 28.0, [], events)
    assert d is not None and d.routed_around_after_fault_start == pytest.approx(16.0)
    assert d.back_after_revert == pytest.approx(12.0) and d.down_bound is None
    never = door_figures(door, "node2", 3.0, 28.0, [], events[:1])
    assert never is not None and never.routed_around_after_fault_start is None


def test_a_random_fault_never_hits_the_clients_node() -> None:
    nodes = [ClusterNode(f"node{i}", f"10.0.0.{i}", "manager") for i in (1, 2, 3, 4)]
    picks = {pick_target("random", nodes, "node1", seed, avoid="node4").node for seed in range(40)}
    assert "node4" not in picks and len(picks) == 3
    with pytest.raises(SpecError, match="the front door's client runs there"):
        pick_target("node4", nodes, "node1", 1, avoid="node4")
    with pytest.raises(SpecError, match="target leader: the leader node4 runs the front door's client"):
        pick_target("leader", nodes, "node4", 1, avoid="node4")


def test_a_failed_lookup_is_an_error_not_an_answer_that_forgot_every_task() -> None:
    heard: list[tuple[str, list[str]]] = []
    resolver = SwarmResolver(lambda host, addresses: heard.append((host, addresses)), timeout=0.2)

    async def ask() -> None:  # nothing answers on 127.0.0.11 here: an error each time, never told as an answer
        for _ in range(2):
            with pytest.raises(OSError, match="Swarm's DNS has no task address"):
                await resolver.resolve("web", 80)

    asyncio.run(ask())
    assert heard == []
