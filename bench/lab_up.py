"""How fast a lab comes up, against the floor of one lone dockerd cold start measured in the same run.

Run as root: `.venv/bin/python bench/lab_up.py [--sizes 3 5 10 20]`. Prints a table; every lab is taken down.
Target: 5 nodes Ready within 2x the lone dockerd start plus the joins (daemons start in parallel).
"""

from __future__ import annotations

import argparse
import time

from rich.console import Console
from rich.table import Table

from pulltheplug.lab import cgroups, daemon, network
from pulltheplug.lab import lab as labmod
from pulltheplug.lab.plan import pick_subnet, plan_lab
from pulltheplug.lab.state import LabState, save_state


def lone_dockerd_start() -> float:
    """Seconds from exec to the first answer of one dockerd with an empty data root (its own namespace)."""
    name = "bnfloor"
    labmod.down(name)
    plan = plan_lab(name, 1, 1, pick_subnet(network.host_networks()))
    save_state(LabState(plan=plan))
    try:
        network.create_hub(plan)
        node = plan.nodes[0]
        network.create_node_net(plan, node)
        start = time.monotonic()
        pid = daemon.boot(node)
        daemon.wait_ready(node, pid)
        return time.monotonic() - start
    finally:
        labmod.down(name)


def lab_up(nodes: int) -> dict[str, float]:
    name = f"bn{nodes}"
    labmod.down(name)
    marks: dict[str, float] = {}
    start = time.monotonic()

    def mark(msg: str) -> None:
        marks.setdefault(msg.split()[0], time.monotonic() - start)

    try:
        lab = labmod.up(name, nodes=nodes, managers=min(3, nodes), progress=mark)
        ready = time.monotonic() - start
        assert all(r.state == "ready" for r in lab.status())
        mem = [cgroups.memory_bytes(n.cgroup) for n in lab.plan.nodes]
    finally:
        down_start = time.monotonic()
        labmod.down(name)  # returns once every process of the lab has exited
        down = time.monotonic() - down_start
    return {"ready": ready, "joins": marks.get("waiting", ready) - marks.get("importing", 0.0),
            "mem_mib": sum(mem) / len(mem) / 2**20, "down": down}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[3, 5, 10, 20])
    args = parser.parse_args()
    labmod.require_root()
    floor = lone_dockerd_start()
    table = Table(title=f"lab up (lone dockerd cold start, the floor: {floor:.2f} s)")
    for col in ("nodes", "all Ready (s)", "init + joins (s)", "ready / floor", "target 2*floor+joins (s)", "met",
                "memory per node (MiB)", "lab down (s)"):
        table.add_column(col, justify="right")
    for n in args.sizes:
        r = lab_up(n)
        target = 2 * floor + r["joins"]
        table.add_row(str(n), f"{r['ready']:.2f}", f"{r['joins']:.2f}", f"{r['ready'] / floor:.1f}x",
                      f"{target:.2f}", "yes" if r["ready"] <= target else "no", f"{r['mem_mib']:.0f}",
                      f"{r['down']:.2f}")
    Console().print(table)


if __name__ == "__main__":
    main()
