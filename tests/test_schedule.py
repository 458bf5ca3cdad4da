"""Schedules planned without a cluster: a seeded draw repeats, faults fit in the soak, clashes are found."""

from __future__ import annotations

from pathlib import Path

import pytest

from pulltheplug.errors import SpecError
from pulltheplug.run.schedule import Slot, check, clashes, draw, drop_clashing
from pulltheplug.spec import RandomScheduleSpec, load_campaign, load_spec, parse_spec
from pulltheplug.spec.campaign_plan import plan_runs, run_spec


def test_a_seeded_draw_repeats_and_every_fault_ends_within_the_soak() -> None:
    spec = RandomScheduleSpec(length=600, mean_interval=60, kinds=["nic-down", "loss", "flap"],
                              targets=["random", "leader"], duration=10)
    first, again, other = draw(spec, 42), draw(spec, 42), draw(spec, 43)
    assert first == again and first != other
    assert 4 <= len(first) <= 20  # about 600/60 arrivals
    assert all(f.at + f.duration <= 600 for f in first)
    assert [f.at for f in first] == sorted(f.at for f in first)
    assert {f.kind for f in first} <= {"nic-down", "loss", "flap"} and {f.target for f in first} <= {"random", "leader"}
    assert len({f.seed for f in first}) == len(first)  # each random target pick has a seed of its own


def test_two_faults_on_one_node_at_once_clash_but_on_two_nodes_they_may_overlap() -> None:
    a = Slot(0, "nic-down", 0, 10, ("node4",))
    b = Slot(1, "power-loss", 5, 10, ("node4",))
    c = Slot(2, "nic-down", 5, 10, ("node3",))
    d = Slot(3, "freeze", 10, 5, ("node4",))  # starts as a ends: no clash
    assert clashes([a, c, d]) == []
    assert [(x.id, y.id, n) for x, y, n in clashes([a, b, c])] == [(0, 1, "node4")]
    with pytest.raises(SpecError, match=r"fault 1 \(nic-down, 0s-10s\) and fault 2 \(power-loss, from 5s\) "
                                        "overlap on node4"):
        check([a, b])
    assert [s.id for s in drop_clashing([b, a, c, d])] == [0, 2, 3]


@pytest.mark.parametrize(("text", "message"), [
    ("fault: {kind: freeze}\nschedule: [{kind: nic-down}]", "not fault and schedule"),
    ("schedule: [{kind: none}]", "leave out `none`"),
    ("random_schedule: {kinds: [none]}", "none is not a fault"),
    ("random_schedule: {targets: [bad/name]}", "use a node name"),
])
def test_bad_schedules_are_refused_by_the_spec(text: str, message: str) -> None:
    with pytest.raises(SpecError, match=message):
        parse_spec(text + "\n")


ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios").glob("*.yaml")), ids=lambda p: p.name)
def test_every_scenario_reads(path: Path) -> None:
    if path.name.startswith("campaign-"):
        campaign = load_campaign(path)
        runs = plan_runs(campaign)
        assert len(runs) == campaign.repetitions * len(campaign.faults) * len(campaign.targets) * len(
            campaign.doors) * len(campaign.settings) * max(1, len(campaign.engines))
    else:
        load_spec(path)


def test_a_heartbeat_sweep_runs_every_fault_under_each_setting_and_names_it() -> None:
    campaign = load_campaign(ROOT / "scenarios" / "campaign-heartbeat.yaml")
    runs = plan_runs(campaign)
    assert [r.scenario for r in runs[:3]] == ["nic-down@random-worker (heartbeat 1s)",
                                              "nic-down@random-worker (heartbeat 5s)",
                                              "nic-down@random-worker (heartbeat 15s)"]
    assert [run_spec(campaign, r).swarm.dispatcher_heartbeat for r in runs[:3]] == [1.0, 5.0, 15.0]


def test_a_schedules_recovery_starts_when_its_last_fault_is_reverted() -> None:
    from pulltheplug.analysis.phases import fault_revert
    from pulltheplug.records.events import event
    from pulltheplug.records.model import Meta

    meta = Meta(name="s", started_at="", t0_monotonic=0.0, phases={"revert": 99.0})
    events = [event(10.0, "fault", {"action": "inject", "id": 0}), event(13.0, "fault", {"action": "inject", "id": 1}),
              event(16.0, "fault", {"action": "revert", "id": 0}), event(18.0, "fault", {"action": "revert", "id": 1})]
    assert fault_revert(meta, events) == 18.0
    assert fault_revert(meta, events[:3]) is None  # fault 2 never reverted: no recovery phase
    assert fault_revert(meta, [events[0], events[2]]) == 16.0  # one fault: its revert
