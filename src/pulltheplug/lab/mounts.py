"""Mounts a stopped dockerd leaves behind (overlays, netns binds) under a node's folder."""

from __future__ import annotations

from pathlib import Path

from pulltheplug.lab.commands import run


def _unescape(path: str) -> str:
    return path.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\")


def mounts_under(prefix: str) -> list[str]:
    """Mount points at or below prefix, deepest first."""
    base = prefix.rstrip("/")
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = _unescape(line.split()[4])
        if point == base or point.startswith(base + "/"):
            points.append(point)
    return sorted(set(points), key=lambda p: (-p.count("/"), p))


def unmount_under(prefix: str) -> None:
    """Lazily unmount everything below prefix, deepest first, until nothing is left."""
    for _ in range(5):
        points = mounts_under(prefix)
        if not points:
            return
        for point in points:
            run("umount", "-l", point, check=False)
