"""Fidelity: the seed's three faults (nic-down, reboot, power-loss) on a worker of a 3-node namespace lab and of a
3-node VM lab, same spec, side by side: outage, detection, recovery.

The namespace lab shares this machine's kernel (a reboot is a dockerd restart, a power cut kills its cgroup);
the VM lab's machines each boot their own kernel under QEMU (TCG here: no KVM guest runs on this machine kind).

    sudo .venv/bin/python bench/fidelity.py [--repeat 1] [--duration 20]

Takes about 15 minutes (the machines' boots under TCG dominate). Both labs are made and taken down here.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from pathlib import Path

from pulltheplug.analysis.results import read_results
from pulltheplug.lab import lab as labmod
from pulltheplug.vmlab import lab as vmlab

FAULTS = ("nic-down", "reboot", "power-loss")
SPEC = """
name: fid-{lab}-{fault}
cluster: {{kind: lab, lab: {lab}}}
workload: {{service: fid-web, port: 8093, replicas: 3, entry: nodes}}
load: {{rate: 50, timeout: 1s}}
fault: {{kind: {fault}, target: node3, duration: {duration}s}}
phases: {{steady: 5s, settle: 5s, timeout: 300s}}
"""


def _s(x: float | None) -> str:
    return "-" if x is None else f"{x:.1f}"


def run(lab: str, fault: str, duration: float, runs: Path) -> dict[str, str]:
    spec = runs / f"{lab}-{fault}.yaml"
    spec.write_text(SPEC.format(lab=lab, fault=fault, duration=duration))
    proc = subprocess.run([sys.executable, "-m", "pulltheplug", "run", str(spec), "--runs-dir", str(runs)],
                          capture_output=True, text=True, check=False)
    folder = next(runs.glob(f"*-fid-{lab}-{fault}"), None)
    results = read_results(folder) if folder is not None else None
    if results is None:
        return {"status": f"no results (exit {proc.returncode}): {proc.stderr.strip()[-200:]}"}
    s, _ = results
    node3 = [w for w in s.outages if w.entry == "node3"]
    return {
        "status": s.status,
        "outage_node3": _s(max((w.duration for w in node3), default=None)),
        "lost": _s(s.detect.node_lost_after_fault_start),
        "ready": _s(s.recover.node_ready_after_revert),
        "healthy": _s(s.recover.requests_healthy_after_fault_start),
        "error_s": str(s.error_seconds),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--duration", type=float, default=20.0)
    args = parser.parse_args()
    rows: list[tuple[str, str, dict[str, str]]] = []
    with tempfile.TemporaryDirectory(prefix="ptp-fidelity-") as tmp:
        for kind, name in (("ns", "fidns"), ("vm", "fidvm")):
            labmod.down(name)
            try:
                if kind == "vm":
                    vmlab.up(name, nodes=3, managers=1)
                else:
                    labmod.up(name, nodes=3, managers=1)
                for fault in FAULTS:
                    for i in range(args.repeat):
                        runs = Path(tmp) / f"{name}-{fault}-{i}"
                        runs.mkdir()
                        rows.append((kind, fault, run(name, fault, args.duration, runs)))
                        print(kind, fault, rows[-1][2], flush=True)
            finally:
                labmod.down(name)
    print()
    print(f"{'lab':4} {'fault':11} {'status':9} {'outage s':>9} {'lost s':>7} {'ready s':>8} {'healthy s':>10} "
          f"{'error s':>8}")
    for kind, fault, r in rows:
        print(f"{kind:4} {fault:11} {r.get('status', '?')[:9]:9} {r.get('outage_node3', '-'):>9} "
              f"{r.get('lost', '-'):>7} {r.get('ready', '-'):>8} {r.get('healthy', '-'):>10} "
              f"{r.get('error_s', '-'):>8}")


if __name__ == "__main__":
    main()
