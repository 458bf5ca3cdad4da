"""report.html in headless Debian Chromium (Playwright), offline: it draws, with no error, what the run holds."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from pulltheplug.record import load_run
from pulltheplug.report import timeline_of, write_html
from pulltheplug.results import results_of
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
