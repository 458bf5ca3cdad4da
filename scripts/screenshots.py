"""The browser half of scripts/screenshots: Debian's headless Chromium (Playwright) on a live run and on a report.

`run SPEC RUNS_DIR OUT`: runs `pulltheplug run SPEC --live` and shoots the live page once the fault is in, the
failure counter has risen and the timeline draws the fault's band; waits for the run to end (Ctrl-C to it on any
error, so its fault is reverted).
`report RUN_DIR OUT`: shoots the top of the run's report.html, offline, and its timeline (OUT-timeline).
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from playwright.sync_api import Page, ViewportSize, sync_playwright

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
VIEWPORT: ViewportSize = {"width": 1280, "height": 800}
PULLTHEPLUG = str(Path(sys.executable).with_name("pulltheplug"))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_url(url: str, run: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    """The live server is up once its port answers; the run may first wait for the lab to be whole."""
    import urllib.request

    deadline = time.monotonic() + timeout
    while True:
        if run.poll() is not None:
            raise SystemExit(f"the run ended (exit {run.returncode}) before its live page answered")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            if time.monotonic() > deadline:
                raise SystemExit(f"no live page at {url} after {timeout:.0f} s") from None
            time.sleep(0.5)


def shoot_live(page: Page, url: str, out: Path) -> None:
    page.goto(url)
    page.wait_for_function("document.getElementById('phase').textContent === 'fault'", timeout=180_000)
    fails = int(page.inner_text("#fail"))
    page.wait_for_function(f"Number(document.getElementById('fail').textContent) > {fails + 50}", timeout=20_000)
    page.wait_for_function(
        "(document.getElementById('timeline').layout?.shapes || []).some(s => s.name === 'fault')", timeout=20_000)
    time.sleep(6)  # well into the fault: the outage open, the band long enough to read
    page.screenshot(path=str(out))


def live(spec: Path, runs: Path, out: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}/"
    run = subprocess.Popen([PULLTHEPLUG, "run", str(spec), "--runs-dir", str(runs), "--live", "--live-port",
                            str(port), "--linger", "3s"])
    try:
        wait_for_url(url, run)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            try:
                shoot_live(browser.new_page(viewport=VIEWPORT), url, out)
            finally:
                browser.close()
        code = run.wait(timeout=300)
    finally:
        if run.poll() is None:
            run.send_signal(signal.SIGINT)  # the run reverts its fault and keeps its records
            run.wait(timeout=120)
    if code not in (0, 1):  # 1: an SLO failed, which a NIC cut may well do
        raise SystemExit(f"the run exited {code}")


def report(folder: Path, out: Path) -> None:
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            page = browser.new_page(viewport=VIEWPORT)
            page.goto((folder / "report.html").resolve().as_uri())
            page.wait_for_selector("#timeline .main-svg")
            page.wait_for_selector("#windowed .main-svg")
            page.screenshot(path=str(out))
            page.locator("#timeline").screenshot(path=str(out.with_name(f"{out.stem}-timeline{out.suffix}")))
        finally:
            browser.close()


def main(argv: list[str]) -> None:
    if len(argv) == 4 and argv[0] == "run":
        live(Path(argv[1]), Path(argv[2]), Path(argv[3]))
    elif len(argv) == 3 and argv[0] == "report":
        report(Path(argv[1]), Path(argv[2]))
    else:
        raise SystemExit("usage: screenshots.py run SPEC RUNS_DIR OUT | report RUN_DIR OUT")


if __name__ == "__main__":
    main(sys.argv[1:])
