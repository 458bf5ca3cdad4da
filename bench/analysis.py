"""How long a run folder takes to summarize and render, and the memory it needs, as runs grow.

`.venv/bin/python bench/analysis.py [--sizes 1200000 10000000] [--jsonl-sizes 1200000]`: writes synthetic run
folders (3 entries, a 20 s outage on one), then times `load_run`, `summarize` and the HTML report in a child
process each, and prints peak RSS. Arrow folders are written as `pulltheplug run` writes them (one IPC stream a
second of requests); JSON-lines folders as runs wrote them before requests.arrow, read by the same code, for the
old figures beside the new. No root, no lab: pure analysis on records.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.ipc
from rich.console import Console
from rich.table import Table

from pulltheplug.records.arrow import REQUESTS_ARROW, SCHEMA
from pulltheplug.records.events import FaultEvent
from pulltheplug.records.folder import RunWriter
from pulltheplug.records.model import Meta, RequestRecord

ENTRIES = ("node1", "node2", "node3")


def _meta(requests: int, rate: float) -> tuple[Meta, float, float]:
    duration = requests / rate
    fault, revert = duration / 3, duration / 3 + 20
    meta = Meta(name="bench", started_at="2026-01-01T00:00:00+00:00", t0_monotonic=0.0, status="complete",
                entries={e: f"http://{e}:8080/" for e in ENTRIES}, load={"rate": rate, "timeout": 1.0},
                fault={"kind": "nic-down", "target": "node3", "node": "node3"},
                phases={"steady": 0.0, "fault": fault, "revert": revert, "converged": revert + 5, "end": duration})
    return meta, fault, revert


def write_jsonl_run(folder: Path, requests: int, rate: float) -> None:
    """The layout before requests.arrow: one JSON line a request."""
    meta, fault, revert = _meta(requests, rate)
    w = RunWriter(folder, meta, "")
    w.event(FaultEvent(t=fault, action="inject", kind="nic-down", node="node3"))
    w.close()
    (folder / REQUESTS_ARROW).unlink()
    with open(folder / "requests.jsonl", "w") as f:
        for k in range(requests):
            due = k / rate
            target = ENTRIES[k % 3]
            bad = target == "node3" and fault <= due < revert
            r = RequestRecord(k, due, due + 0.0005, due + (1.0 if bad else 0.003), target, "fail" if bad else "ok",
                              None if bad else 200, "connect_timeout" if bad else None, None if bad else target,
                              None if bad else f"web.{k % 3}")
            f.write(json.dumps({
                "k": r.k, "due": round(r.due, 6), "sent": round(r.due + 0.0005, 6), "end": round(r.end, 6),
                "target": r.target, "outcome": r.outcome, **({"status": 200, "node": r.node, "task": r.task}
                                                           if not bad else {"error": "connect_timeout"})},
                separators=(",", ":")) + "\n")


def _strings(codes: np.ndarray, names: list[str]) -> pa.DictionaryArray:
    mask = codes < 0
    return pa.DictionaryArray.from_arrays(pa.array(np.where(mask, 0, codes).astype(np.int32), mask=mask),
                                          pa.array(names, pa.string()))


def write_arrow_run(folder: Path, requests: int, rate: float) -> None:
    """requests.arrow as a run writes it: one IPC stream (zstd) for each second of requests."""
    meta, fault, revert = _meta(requests, rate)
    w = RunWriter(folder, meta, "")
    w.event(FaultEvent(t=fault, action="inject", kind="nic-down", node="node3"))
    w.close()
    options = pa.ipc.IpcWriteOptions(compression="zstd")
    per = int(rate)
    rng = np.random.default_rng(1)
    with open(folder / REQUESTS_ARROW, "wb") as f:
        for first in range(0, requests, per):
            k = np.arange(first, min(first + per, requests), dtype=np.int64)
            due = k / rate
            target = (k % 3).astype(np.int32)
            bad = (target == 2) & (due >= fault) & (due < revert)
            sent = due + rng.uniform(0.0001, 0.0009, len(k))
            end = np.where(bad, sent + 1.0, sent + rng.exponential(0.002, len(k)))
            good = np.where(bad, -1, 0)
            batch = pa.record_batch([
                pa.array(k), pa.array(due), pa.array(sent), pa.array(end), _strings(target, list(ENTRIES)),
                _strings(bad.astype(np.int32), ["ok", "fail"]), pa.array(np.where(bad, 0, 200).astype(np.int32),
                                                                        mask=bad),
                _strings(np.where(bad, 0, -1), ["connect_timeout"]), _strings(np.where(bad, -1, target),
                                                                                list(ENTRIES)),
                _strings(np.where(bad, -1, target + good), ["web.0", "web.1", "web.2"])], schema=SCHEMA)
            sink = pa.BufferOutputStream()
            with pa.ipc.new_stream(sink, SCHEMA, options=options) as writer:
                writer.write_batch(batch)
            f.write(sink.getvalue().to_pybytes())


def measure(folder: Path) -> dict[str, float]:
    """In a child process, so peak memory is this run's alone."""
    code = (
        "import sys, time, resource, json; from pathlib import Path\n"
        "from pulltheplug.records.model import load_run; from pulltheplug.analysis import summarize\n"
        "from pulltheplug.report.html import write_html; from pulltheplug.analysis.results import results_of\n"
        "f = Path(sys.argv[1]); t = time.perf_counter(); run = load_run(f, columnar=True); t1 = time.perf_counter()\n"
        "summary, slos = results_of(run); t2 = time.perf_counter()\n"
        "peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024\n"
        "write_html(run, summary, slos); t3 = time.perf_counter()\n"
        "print(json.dumps({'load': t1 - t, 'summarize': t2 - t1, 'report': t3 - t2, 'summary_mib': peak,\n"
        "  'rss_mib': resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))\n"
    )
    out = subprocess.run([sys.executable, "-c", code, str(folder)], capture_output=True, text=True, check=True)
    return dict(json.loads(out.stdout))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_200_000, 3_000_000, 10_000_000])
    parser.add_argument("--jsonl-sizes", type=int, nargs="*", default=[1_200_000])
    args = parser.parse_args()
    table = Table(title="analysis of a run folder (synthetic records, one child process each)")
    for col in ("requests", "as", "records", "file MiB", "load_run s", "summarize s", "peak MiB (summary)",
                "report.html s", "report MiB", "peak MiB (report)"):
        table.add_column(col, justify="right")
    with tempfile.TemporaryDirectory() as tmp:
        for kind, sizes in (("jsonl", args.jsonl_sizes), ("arrow", args.sizes)):
            for n in sizes:
                rate = 2000.0 if n <= 1_200_000 else 16_667.0
                folder = Path(tmp) / f"{kind}{n}"
                (write_jsonl_run if kind == "jsonl" else write_arrow_run)(folder, n, rate)
                m = measure(folder)
                records = folder / ("requests.jsonl" if kind == "jsonl" else REQUESTS_ARROW)
                table.add_row(f"{n:,}", f"{n / rate / 60:.0f} min at {rate:,.0f}/s", kind,
                              f"{records.stat().st_size / 2**20:.0f}", f"{m['load']:.2f}",
                              f"{m['summarize']:.2f}", f"{m['summary_mib']:.0f}", f"{m['report']:.2f}",
                              f"{(folder / 'report.html').stat().st_size / 2**20:.1f}", f"{m['rss_mib']:.0f}")
                Console().print(table.rows and f"{kind} {n:,}: load {m['load']:.2f} s, summarize "
                                f"{m['summarize']:.2f} s, report {m['report']:.2f} s, peak {m['rss_mib']:.0f} MiB")
    Console(width=150).print(table)


if __name__ == "__main__":
    main()
