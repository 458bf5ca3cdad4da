"""The run as Prometheus metrics: what a scrape sees, the OpenMetrics export promtool backfills, and the
Grafana dashboard that draws them."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from pulltheplug.live.metrics import openmetrics_of, registry_of
from pulltheplug.records.folder import load_run
from tests.live.test_state import folded
from tests.report.synthetic import synthetic_run, write_run

DASHBOARD = Path(__file__).resolve().parents[2] / "grafana" / "pulltheplug-dashboard.json"
PROMTOOL = Path(sys.prefix) / "bin" / "promtool"  # scripts/install puts it there


def scraped(now: float) -> dict[str, list[tuple[dict[str, str], float]]]:
    state = folded(now)
    text = generate_latest(registry_of(lambda: (state, "r1", now))).decode()
    out: dict[str, list[tuple[dict[str, str], float]]] = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out.setdefault(s.name, []).append((s.labels, s.value))
    return out


def test_a_scrape_at_the_end_counts_exactly_the_records() -> None:
    run = synthetic_run()
    samples = scraped(1e9)
    got = {(lb["entry"], lb["outcome"]): v for lb, v in samples["pulltheplug_requests_total"] if v}
    assert got == dict(Counter((r.target, r.outcome) for r in run.requests))
    errors = {(lb["entry"], lb["error"]): v for lb, v in samples["pulltheplug_request_errors_total"]}
    assert errors == dict(Counter((r.target, r.error) for r in run.requests if r.error))
    inf = {lb["entry"]: v for lb, v in samples["pulltheplug_request_latency_seconds_bucket"] if lb["le"] == "+Inf"}
    assert inf == dict(Counter(r.target for r in run.requests if r.outcome == "ok"))
    assert all(lb["run"] == "r1" for lb, _ in samples["pulltheplug_requests_total"])
    (worst,) = samples["pulltheplug_worst_window_availability"]
    assert worst[0] == {"run": "r1", "window": "1s"} and 0.0 <= worst[1] < 1.0
    assert samples["pulltheplug_error_seconds"][0][1] > 0


def test_a_scrape_mid_fault_shows_the_fault_the_leader_and_the_down_node() -> None:
    samples = scraped(35.0)
    ones = {name: {tuple(sorted(lb.items())) for lb, v in rows if v == 1} for name, rows in samples.items()}
    assert (("fault", "0"), ("kind", "nic-down"), ("node", "node3"), ("run", "r1")) in ones["pulltheplug_fault_active"]
    assert ones["pulltheplug_leader"] == {(("node", "node1"), ("run", "r1"))}
    assert (("node", "node3"), ("run", "r1"), ("state", "down")) in ones["pulltheplug_node_state"]
    assert ones["pulltheplug_phase"] == {(("phase", "fault"), ("run", "r1"))}
    outage = samples["pulltheplug_open_outage_seconds"][0][1]
    assert outage == pytest.approx(15.0, abs=0.05)


def test_nothing_is_exposed_before_a_run_begins() -> None:
    assert generate_latest(registry_of(lambda: None)) == b""


@pytest.mark.skipif(not PROMTOOL.exists(), reason="promtool comes with ./scripts/install")
def test_the_openmetrics_export_backfills_with_promtool(tmp_path: Path) -> None:
    folder = write_run(tmp_path / "run", synthetic_run())
    text = openmetrics_of(load_run(folder))
    assert text.endswith("# EOF\n")
    points = [line for line in text.splitlines() if line and not line.startswith("#")]
    stamps = sorted({float(line.rsplit(" ", 1)[1]) for line in points})
    assert len(stamps) == 61 and stamps[1] - stamps[0] == 1.0  # one point a second, 0 s to 60 s
    # the last point of each request counter is the records' count
    last: dict[str, float] = {}
    for line in points:
        if line.startswith("pulltheplug_requests_total{"):
            labels, value, _ = line.rsplit(" ", 2)
            last[labels] = float(value)
    run = load_run(folder)
    for (entry, outcome), n in Counter((r.target, r.outcome) for r in run.requests).items():
        assert last[f'pulltheplug_requests_total{{entry="{entry}",outcome="{outcome}",run="run"}}'] == n
    export = tmp_path / "run.om"
    export.write_text(text)
    made = subprocess.run([str(PROMTOOL), "tsdb", "create-blocks-from", "openmetrics", str(export),
                           str(tmp_path / "tsdb")], capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    row = next(line.split() for line in made.stdout.splitlines() if re.match(r"^[0-9A-Z]{26}\s", line))
    assert int(row[4]) == len(points)  # NUM SAMPLES: promtool took every point


def test_every_dashboard_query_names_a_metric_the_run_exposes() -> None:
    dash = json.loads(DASHBOARD.read_text())
    exprs = [t["expr"] for p in dash["panels"] for t in p["targets"]]
    exprs += [a["expr"] for a in dash["annotations"]["list"]]
    exprs.append(dash["templating"]["list"][1]["definition"])
    exposed = set(scraped(35.0))
    used = {m for e in exprs for m in re.findall(r"pulltheplug_[a-z_]+", e)}
    assert used and used <= exposed, used - exposed
    assert len(dash["panels"]) >= 8
