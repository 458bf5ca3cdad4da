"""report.html in headless Debian Chromium (Playwright), offline: it draws, with no error, what the run holds."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from pulltheplug.analysis.results import results_of
from pulltheplug.records.folder import load_run
from pulltheplug.report import timeline_of, write_html
from tests.report.synthetic import synthetic_run, write_run

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"needs Debian chromium at {CHROMIUM}"),
]


def test_report_draws_offline_in_chromium(tmp_path: Path) -> None:
    sync_api = pytest.importorskip("playwright.sync_api")
    folder = write_run(tmp_path / "run", synthetic_run())
    run = load_run(folder)
    summary, slos = results_of(run)
    report = write_html(run, summary, slos)
    bins = len(timeline_of(run).bins.start)

    problems: list[str] = []
    remote: list[str] = []

    def route(r: Any) -> None:
        if r.request.url.startswith(("file:", "data:")):
            r.continue_()
        else:
            remote.append(r.request.url)
            r.abort()

    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("console", lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None)
            page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
            page.route("**/*", route)
            page.goto(report.as_uri())
            page.wait_for_selector("#timeline .main-svg")
            page.wait_for_selector("#windowed .main-svg")
            curve: list[str] = page.evaluate("document.getElementById('windowed').data.map(t => t.name)")
            data: list[dict[str, Any]] = page.evaluate(
                "document.getElementById('timeline').data.map(t => ({name: t.name, x: t.x, y: t.y}))")
            shapes: list[str] = page.evaluate(
                "(document.getElementById('timeline').layout.shapes || []).map(s => s.name)")
            ARTIFACTS.mkdir(exist_ok=True)
            page.screenshot(path=str(ARTIFACTS / "report.png"), full_page=True)
        finally:
            browser.close()

    assert problems == []
    assert remote == []
    traces = {t["name"]: t for t in data}
    assert len(traces["ok"]["x"]) == len(traces["fail"]["x"]) == bins == 600
    assert sum(traces["fail"]["y"]) == summary.outcomes.fail
    assert sum(traces["ok"]["y"]) == summary.outcomes.ok
    assert {f"lane:{n}" for n in ("node1", "node2", "node3")} <= set(traces)
    assert "fault:node3" in traces
    assert "fault" in shapes and "control-plane" in shapes and "leader-change" in shapes
    assert curve == ["all entries", "node1", "node2", "node3"]  # worst availability against window size


def test_a_schedule_draws_a_band_and_a_lane_stripe_per_fault(tmp_path: Path) -> None:
    """Two faults (nic-down of node3, then power-loss of node1 while node3 is still cut): two bands, a stripe on
    each node's lane, and the table of intervals with their outages."""
    import dataclasses

    from pulltheplug.records.events import event

    sync_api = pytest.importorskip("playwright.sync_api")
    base = synthetic_run()
    second = [event(30.0, "fault", {"action": "inject", "id": 1, "kind": "power-loss", "node": "node1",
                                    "nodes": ["node1"]}),
              event(30.05, "fault", {"action": "injected", "id": 1, "kind": "power-loss", "node": "node1",
                                     "nodes": ["node1"], "evidence": {"killed": 12}}),
              event(45.0, "fault", {"action": "revert", "id": 1, "kind": "power-loss", "node": "node1",
                                    "nodes": ["node1"]}),
              event(46.0, "fault", {"action": "reverted", "id": 1, "kind": "power-loss", "node": "node1",
                                    "nodes": ["node1"], "evidence": {"daemon_running": True}})]
    meta = dataclasses.replace(base.meta, fault={"kind": "schedule", "target": "schedule", "duration": 25.0,
                                                 "schedule": [{"id": 0, "kind": "nic-down", "node": "node3"},
                                                              {"id": 1, "kind": "power-loss", "node": "node1"}]})
    run = dataclasses.replace(base, meta=meta, events=sorted([*base.events, *second], key=lambda e: e.t))
    folder = write_run(tmp_path / "run", run)
    run = load_run(folder)
    summary, slos = results_of(run)
    assert [(f.kind, f.node) for f in summary.faults] == [("nic-down", "node3"), ("power-loss", "node1")]
    report = write_html(run, summary, slos)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            problems: list[str] = []
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(report.as_uri())
            page.wait_for_selector("#timeline .main-svg")
            bands: list[list[float]] = page.evaluate(
                "(document.getElementById('timeline').layout.shapes || []).filter(s => s.name === 'fault')"
                ".map(s => [s.x0, s.x1])")
            traces: list[str] = page.evaluate("document.getElementById('timeline').data.map(t => t.name)")
            rows = page.locator("#fault-intervals tr").count()
        finally:
            browser.close()
    assert problems == []
    assert sorted({(round(a, 2), round(b, 2)) for a, b in bands}) == [(20.0, 40.0), (30.0, 45.0)]  # each on every row
    assert {"fault:node3", "fault:node1"} <= set(traces)
    assert rows == 3  # the header and one row per fault


def test_a_finding_links_to_its_span_on_the_timeline(tmp_path: Path) -> None:
    """node3 lost a second time for one fault (flapping, 30.0-44.0 s): its link zooms the timeline there and
    shades the span."""
    import dataclasses

    from pulltheplug.records.events import event

    sync_api = pytest.importorskip("playwright.sync_api")
    base = synthetic_run()
    again = [event(44.0, "node", {"node": "node3", "state": "down", "availability": "active", "role": "manager",
                                  "manager": "unreachable"}),
             event(46.0, "node", {"node": "node3", "state": "ready", "availability": "active", "role": "manager",
                                  "manager": "reachable"})]
    folder = write_run(tmp_path / "run", dataclasses.replace(base, events=[*base.events, *again]))
    run = load_run(folder)
    summary, slos = results_of(run)
    (flap,) = [f for f in summary.findings if f.found and f.rule == "flapping"]
    assert (flap.start, flap.end) == (30.0, 44.0)
    report = write_html(run, summary, slos)
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(report.as_uri())
            page.wait_for_selector("#timeline .main-svg")
            assert "went Down and back 2 times" in page.locator("#findings").inner_text()
            page.locator("#findings tr", has_text="flapping").locator("a.span-link").click()
            page.wait_for_function("document.getElementById('timeline').layout.xaxis.range[1] < 50")
            shown: list[float] = page.evaluate("document.getElementById('timeline').layout.xaxis.range")
            shaded: list[list[float]] = page.evaluate(
                "document.getElementById('timeline').layout.shapes.filter(s => s.name === 'finding')"
                ".map(s => [s.x0, s.x1])")
        finally:
            browser.close()
    assert [round(x, 1) for x in shown] == [flap.start - 2, 46.0]
    assert shaded == [[flap.start, 44.0]]
