"""How long a run folder takes to summarize and render, and the memory it needs, as runs grow.

`.venv/bin/python bench/analysis.py [--sizes 100000 1000000]`: writes synthetic run folders (200 to 2,000 req/s
over 3 entries, a 20 s outage on one), then times `load_run`, `summarize` and the HTML report, and prints peak RSS.
No root, no lab: pure analysis on records as `pulltheplug run` writes them.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from pulltheplug.record import Event, Meta, RequestRecord, RunWriter

ENTRIES = ("node1", "node2", "node3")


def write_run(folder: Path, requests: int, rate: float) -> None:
    duration = requests / rate
    fault, revert = duration / 3, duration / 3 + 20
    meta = Meta(name="bench", started_at="2026-01-01T00:00:00+00:00", t0_monotonic=0.0, status="complete",
                entries={e: f"http://{e}:8080/" for e in ENTRIES}, load={"rate": rate, "timeout": 1.0},
                fault={"kind": "nic-down", "target": "node3", "node": "node3"},
                phases={"steady": 0.0, "fault": fault, "revert": revert, "converged": revert + 5, "end": duration})
    w = RunWriter(folder, meta, "")
    w.event(Event(fault, "fault", {"action": "inject", "kind": "nic-down", "node": "node3"}))
    for k in range(requests):
        due = k / rate
        target = ENTRIES[k % 3]
        bad = target == "node3" and fault <= due < revert
        w.request(RequestRecord(k, due, due + 0.0005, due + (1.0 if bad else 0.003), target,
                                "fail" if bad else "ok", None if bad else 200, "connect_timeout" if bad else None,
                                None if bad else target, None if bad else f"web.{k % 3}"))
    w.close()


def measure(folder: Path) -> dict[str, float]:
    """In a child process, so peak memory is this run's alone."""
    code = (
        "import sys, time, resource, json; from pathlib import Path\n"
        "from pulltheplug.record import load_run; from pulltheplug.analysis import summarize\n"
        "from pulltheplug.report.html import render_report\n"
        "f = Path(sys.argv[1]); t = time.perf_counter(); run = load_run(f); t1 = time.perf_counter()\n"
        "summarize(run); t2 = time.perf_counter(); render_report(f); t3 = time.perf_counter()\n"
        "print(json.dumps({'load': t1 - t, 'summarize': t2 - t1, 'report': t3 - t2,\n"
        "  'rss_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[60_000, 360_000, 1_200_000])
    args = parser.parse_args()
    table = Table(title="analysis of a run folder (synthetic records, one child process each)")
    for col in ("requests", "as", "file MiB", "load_run s", "summarize s", "report.html s", "report MiB",
                "peak RSS MiB"):
        table.add_column(col, justify="right")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            rate = 200.0 if n <= 60_000 else 2000.0
            folder = Path(tmp) / f"run{n}"
            write_run(folder, n, rate)
            m = measure(folder)
            table.add_row(f"{n:,}", f"{n / rate / 60:.0f} min at {rate:g}/s",
                          f"{(folder / 'requests.jsonl').stat().st_size / 2**20:.0f}", f"{m['load']:.2f}",
                          f"{m['summarize']:.2f}", f"{m['report']:.2f}",
                          f"{(folder / 'report.html').stat().st_size / 2**20:.1f}", f"{m['rss_mib']:.0f}")
    Console().print(table)


if __name__ == "__main__":
    main()
