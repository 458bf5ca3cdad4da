"""Watching a real run as it happens: `pulltheplug run --live --metrics-port` in a real terminal (tmux), the
live page in a real Chromium, the metrics scraped during and after; a nic-down of the worker node4.

One run serves all three watchers, as a person would watch it: the page must show the fault band and the
failure counter rising while the fault is in, then link the report; the terminal panel must show the
phase, the outage and the nodes; the metrics must parse and, at the end, count exactly the records.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from pulltheplug.lab import lab as labmod
from pulltheplug.records.folder import load_run
from tests.e2e.test_experiment import FAST
from tests.live.test_server import free_port
from tests.report.test_browser import ARGS, ARTIFACTS, CHROMIUM

pytestmark = [
    pytest.mark.lab,
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None or shutil.which("tmux") is None,
                       reason="needs Debian chromium and tmux (./scripts/install)"),
]

SPEC = FAST.format(name="e2e-live", kind="nic-down", target="node4", duration="10s")  # 100 req/s, 3 s steady


def scrape(port: int) -> dict[str, list[tuple[dict[str, str], float]]]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as r:
        text = r.read().decode()
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


class Terminal:
    """A tmux session running one command; `screen()` is what a person would see."""

    def __init__(self, name: str, command: str, cwd: Path) -> None:
        self.name = name
        subprocess.run(["tmux", "new-session", "-d", "-s", name, "-x", "150", "-y", "45", "-c", str(cwd), command],
                       check=True)

    def screen(self) -> str:
        return subprocess.run(["tmux", "capture-pane", "-p", "-t", self.name], capture_output=True, text=True,
                              check=True).stdout

    def command_pid(self) -> int | None:
        """The pulltheplug process: the child of the pane's shell."""
        pane = subprocess.run(["tmux", "list-panes", "-t", self.name, "-F", "#{pane_pid}"], capture_output=True,
                              text=True).stdout.split()
        if not pane:
            return None
        children = Path(f"/proc/{pane[0]}/task/{pane[0]}/children")
        pids = children.read_text().split() if children.exists() else []
        return int(pids[0]) if pids else None

    def interrupt(self) -> None:
        """Ctrl-C to pulltheplug alone (its revert runs), then the session goes."""
        pid = self.command_pid()
        if pid is not None:
            os.kill(pid, signal.SIGINT)
            deadline = time.monotonic() + 60
            while Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
                time.sleep(0.2)

    def close(self) -> None:
        subprocess.run(["tmux", "kill-session", "-t", self.name], capture_output=True)


@pytest.fixture
def watched_run(lab: labmod.Lab, tmp_path: Path) -> Iterator[tuple[Terminal, int, int, Path]]:
    live, metrics = free_port(), free_port()
    (tmp_path / "spec.yaml").write_text(SPEC)
    cmd = (f"{sys.executable} -m pulltheplug run spec.yaml --runs-dir runs --live --live-port {live} "
           f"--metrics-port {metrics} --linger 40s; echo $? > exit-code; sleep 120")
    term = Terminal(f"ptp-live-{os.getpid()}", cmd, tmp_path)
    try:
        yield term, live, metrics, tmp_path
    finally:
        term.interrupt()
        term.close()
        lab.set_nic("node4", True)  # whatever happened, leave the shared lab whole


def wait_for(what: str, check: Any, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        got = check()
        if got:
            return got
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.2)


def test_a_fault_watched_in_a_browser_a_terminal_and_prometheus(
        watched_run: tuple[Terminal, int, int, Path]) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    term, live_port, metrics_port, folder = watched_run
    url = f"http://127.0.0.1:{live_port}/"
    wait_for("the live URL in the terminal", lambda: url in term.screen())
    problems: list[str] = []
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(url)
            page.wait_for_function("document.getElementById('phase').textContent === 'fault'", timeout=90_000)
            fails_at_fault = int(page.inner_text("#fail"))
            # the failure counter rises while the fault is still in; what the page, the terminal and the metrics
            # say then is read at once (the fault lasts 10 s: a loaded CI machine once took longer than that to
            # draw the band, when it was read first)
            page.wait_for_function(f"Number(document.getElementById('fail').textContent) > {fails_at_fault + 10}",
                                   timeout=10_000)
            phase_mid, faults_mid = page.inner_text("#phase"), page.inner_text("#faults")
            mid = scrape(metrics_port)
            screen = term.screen()
            assert phase_mid == "fault"
            assert "nic-down on node4" in faults_mid
            # the timeline draws the fault's band (rebuilt every 2 s at most; the band stays once the fault is over)
            page.wait_for_function(
                "(document.getElementById('timeline').layout?.shapes || []).some(s => s.name === 'fault')",
                timeout=20_000)
            ARTIFACTS.mkdir(exist_ok=True)
            (ARTIFACTS / "live-terminal.txt").write_text(screen)
            page.screenshot(path=str(ARTIFACTS / "live.png"), full_page=True)
            # the end: the link to the report, which opens
            page.wait_for_selector("#report-link[href]", state="visible", timeout=120_000)
            page.click("#report-link")
            page.wait_for_selector("#timeline .main-svg", timeout=30_000)
            report_title = page.title()
        finally:
            browser.close()
    assert problems == []
    assert "e2e-live" in report_title

    # the terminal panel, mid-fault: phase and countdown, the outage on node4's entry, every node, the leader
    assert "fault: nic-down on node4" in screen and "s left" in screen, screen
    assert "outage:" in screen and "on node4" in screen, screen
    rows = {line.split()[0]: line.split() for line in screen.splitlines() if re.match(r"node\d+ ", line)}
    assert set(rows) == {"node1", "node2", "node3", "node4"}, screen
    assert sum("leader" in r for r in rows.values()) == 1, screen

    # metrics mid-fault: node4's fault active, and a leader named. The page shows what the server pushed up to
    # 0.5 s before, so on a loaded machine the scrape may come just after the revert: then it says so itself
    phase = {lb["phase"] for lb, v in mid["pulltheplug_phase"] if v == 1}
    active = {lb["node"] for lb, v in mid["pulltheplug_fault_active"] if v == 1}
    assert {lb["node"] for lb, _ in mid["pulltheplug_fault_active"]} == {"node4"}
    assert (phase, active) in (({"fault"}, {"node4"}), ({"recovery"}, set())), (phase, active)
    assert sum(v for _, v in mid["pulltheplug_leader"]) == 1

    # metrics at the end (the page and metrics linger): they count exactly the records
    run = load_run(next((folder / "runs").glob("*-e2e-live")))
    assert run.meta.status == "complete"
    end = wait_for("the final scrape", lambda: (m := scrape(metrics_port)) and
                   sum(v for _, v in m["pulltheplug_requests_total"]) == len(run.requests) and m)
    counted = {(lb["entry"], lb["outcome"]): v for lb, v in end["pulltheplug_requests_total"] if v}
    assert counted == dict(Counter((r.target, r.outcome) for r in run.requests))
    assert {lb["run"] for lb, _ in end["pulltheplug_requests_total"]} == {run.folder.name}

    # Ctrl-C while it lingers leaves at once, with the run's own verdict, not 130
    term.interrupt()
    code = wait_for("the exit code", lambda: (folder / "exit-code").exists() and
                    (folder / "exit-code").read_text().strip(), timeout=20)
    verdict = json.loads((run.folder / "summary.json").read_text())
    assert int(code) == (0 if verdict["passed"] else 1)
