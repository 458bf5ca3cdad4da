"""keepalived's config, its state files, the VIP figures and the `door` target, on synthetic data."""

from __future__ import annotations

from pathlib import Path

import pytest

from pulltheplug.analysis.door import door_figures
from pulltheplug.cluster.local_files import LocalFiles
from pulltheplug.cluster.seam import ClusterNode
from pulltheplug.doors.vrrp import default_vip, keepalived_config, read_state, takeover_bound
from pulltheplug.faults.targets import pick_target
from pulltheplug.records.events import Event, event
from pulltheplug.records.model import RequestRecord
from pulltheplug.spec import VipSpec


def test_config_every_node_backup_nopreempt_with_its_priority() -> None:
    cfg = keepalived_config("node2", 199, VipSpec(advert_int=0.5, router_id=7), "10.213.0.253", 24, Path("/n"))
    for line in ("state BACKUP", "nopreempt", "interface eth0", "virtual_router_id 7", "priority 199",
                 "advert_int 0.5", "10.213.0.253/24 dev eth0", 'notify "/bin/sh /n"', "router_id node2"):
        assert line in cfg, line


def test_bound_vip_and_state_files(tmp_path: Path) -> None:
    assert takeover_bound(VipSpec()) == 4.0 and takeover_bound(VipSpec(advert_int=0.5)) == 2.0
    assert default_vip("10.213.7.0/24") == "10.213.7.253"
    files = LocalFiles(tmp_path / "vip")
    assert read_state(files, "node1") == "starting"
    files.write("node1.state", "MASTER\n")
    assert read_state(files, "node1") == "master"
    assert oct((tmp_path / "vip").stat().st_mode & 0o777) == "0o700"  # keepalived's script security
    files.remove()
    assert not (tmp_path / "vip").exists() and read_state(files, "node1") == "starting"
    files.write("node1.notify", "#!/bin/sh\n", 0o700)  # a door removes what an earlier run left, then writes
    assert oct((tmp_path / "vip" / "node1.notify").stat().st_mode & 0o777) == "0o700"


def _req(due: float, ok: bool) -> RequestRecord:
    return RequestRecord(k=int(due * 100), due=due, sent=due, end=due + 0.01, target="vip",
                         outcome="ok" if ok else "fail", error=None if ok else "connect_timeout")


def test_vip_figures_count_the_takeover_by_another_node() -> None:
    door = {"kind": "vip", "address": "10.213.0.253", "down_bound": 4.0}

    def ev(t: float, node: str, state: str) -> Event:
        return event(t, "door", {"door": "vip", "backend": node, "state": state})

    events = [ev(0.1, "node1", "master"), ev(0.1, "node2", "backup"), ev(3.12, "node1", "fault"),
              ev(6.38, "node2", "master"), ev(11.14, "node1", "backup")]
    d = door_figures(door, "node1", 3.1, 11.1, [_req(3.2, False), _req(6.2, False), _req(7.0, True)], events)
    assert d is not None
    assert d.routed_around_after_fault_start == pytest.approx(3.28)  # node1's own FAULT is not a takeover
    assert d.back_after_revert == pytest.approx(0.04)
    assert d.errors_after_fault_start == 2 and d.last_error_after_fault_start == pytest.approx(3.1)


def test_target_door_is_the_holder_or_a_seeded_random_node() -> None:
    nodes = [ClusterNode(f"node{i}", f"10.0.0.{i}", "manager") for i in (1, 2, 3)]
    assert pick_target("door", nodes, "node1", 5, holder="node3").node == "node3"
    no_holder = pick_target("door", nodes, "node1", 5)  # haproxy, or straight to the nodes
    assert no_holder.target == "door" and no_holder.seed == 5
    assert no_holder.node == pick_target("random", nodes, "node1", 5).node
