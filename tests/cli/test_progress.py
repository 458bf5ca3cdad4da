"""The terminal's view of a run: the live panel on a terminal, one line per update in a log."""

from __future__ import annotations

import io

from rich.console import Console

from pulltheplug.cli.progress import ProgressDisplay, progress_panel, progress_text
from pulltheplug.run.progress import RunProgress


def mid_fault() -> RunProgress:
    return RunProgress(phase="fault: nic-down on node4", elapsed=12.0, ok=900, fail=40, info=3,
                       nodes={"node1": "ready", "node4": "down"}, leader="node1", control_plane=True,
                       phase_until=20.0, rates={"ok": 75, "fail": 25, "info": 0}, outage=("node4", 6.5),
                       tasks={"node1": 2})


def test_the_panel_shows_phase_countdown_last_second_outage_and_nodes() -> None:
    out = io.StringIO()
    Console(file=out, width=120, color_system=None).print(progress_panel(mid_fault(), "run 1 of 3"))
    text = out.getvalue()
    for seen in ("run 1 of 3", "fault: nic-down on node4", "8s left", "fail 25/s", "outage: 6.5s on node4"):
        assert seen in text, seen
    node4 = next(line for line in text.splitlines() if line.startswith("node4"))
    assert node4.split()[:2] == ["node4", "down"]
    assert "leader" in next(line for line in text.splitlines() if line.startswith("node1"))


def test_a_log_gets_a_line_at_each_phase_change_not_at_each_tick() -> None:
    out = io.StringIO()
    console = Console(file=out, width=200, color_system=None)
    assert not console.is_terminal
    with ProgressDisplay(console) as display:
        p = mid_fault()
        for _ in range(5):
            display.update(p)
        p.phase = "recovery"
        display.update(p)
    lines = out.getvalue().splitlines()
    assert len(lines) == 2 and lines[1].split()[1] == "recovery"
    assert "outage 6.5s on node4" in lines[0] and "node4:down" in lines[0] and "node1:ready*" in lines[0]
    assert progress_text(p) == lines[1]


def test_a_load_test_shows_no_leader_control_plane_or_nodes() -> None:
    load = RunProgress(phase="steady", elapsed=3.0, ok=290, fail=10, phase_until=10.0, rates={"ok": 90, "fail": 10},
                       outage=("127.0.0.1:8080", 0.4), cluster=False)
    out = io.StringIO()
    Console(file=out, width=160, color_system=None).print(progress_panel(load))
    for text in (out.getvalue(), progress_text(load)):
        assert "fail 10/s" in text and "0.4s on 127.0.0.1:8080" in text
        assert "leader" not in text and "control plane" not in text and "node" not in text
