"""What a lab leaves on the host: compared before and after to prove `down` removes everything."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path


def _lines(*cmd: str) -> list[str]:
    return subprocess.run(cmd, capture_output=True, text=True, check=False).stdout.splitlines()


def host_snapshot(lab: str) -> dict[str, list[str]]:
    mine = re.compile(rf"ptp-{lab}\b|pulltheplug/{lab}\b")
    cgroup_dirs = sorted(str(p) for p in Path("/sys/fs/cgroup").glob(f"*/pulltheplug/{lab}"))
    procs = []
    for p in Path("/proc").glob("[0-9]*/cgroup"):
        try:
            if f"pulltheplug/{lab}/" in p.read_text():
                procs.append(p.parent.name)
        except OSError:
            continue
    firewall = [re.sub(r"\[\d+:\d+\]", "", line) for line in _lines("iptables-save") if not line.startswith("#")]
    return {
        "netns": sorted(line for line in _lines("ip", "netns", "list") if mine.search(line)),
        "links": sorted(line.split(":")[1].strip() for line in _lines("ip", "-o", "link") if mine.search(line)),
        "mounts": sorted(line for line in _lines("cat", "/proc/self/mounts") if f"/pulltheplug/{lab}" in line),
        "cgroups": cgroup_dirs,
        "processes": sorted(procs),
        "firewall": firewall,
        "nft": _lines("nft", "list", "ruleset"),
        "files": [str(Path("/var/lib/pulltheplug") / lab)] if (Path("/var/lib/pulltheplug") / lab).exists() else [],
    }
