"""Which container engine a lab node runs: this machine's own Debian 12 docker.io (bookworm: Docker 20.10), or
another Debian release's, taken from a root filesystem built once with mmdebstrap and cached outside the repo.

trixie (Debian 13) gives Docker 26.1 and containerd 1.7. Its dockerd, containerd, containerd shim and
docker-proxy run on this machine's glibc; its runc does not (it needs glibc 2.38), so a trixie node runs
trixie's engine with this machine's runc (1.1.5): runc only starts a container's processes, while what a
fault exercises (the swarm's raft, dispatcher, heartbeats, task scheduling) lives in dockerd. A node's engine
is chosen by what its dockerd finds first on PATH: a folder of links into the release's tree.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import subprocess
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import get_args

from pulltheplug.errors import LabError, SpecError
from pulltheplug.lab.mounts import unmount_under
from pulltheplug.lab.state import list_labs, load_state
from pulltheplug.spec.base import EngineRelease

log = logging.getLogger(__name__)

Release = EngineRelease
RELEASES: tuple[Release, ...] = get_args(EngineRelease)
HOST_RELEASE: Release = "bookworm"  # this machine's own docker.io: nothing to build
CACHE = Path("/var/cache/pulltheplug/engines")
BUILD_TIMEOUT = 900.0  # s: mmdebstrap fetches about 60 MB of packages (26 s here)
# the engine's own binaries, taken from the release (the path inside its tree); runc stays this machine's
TAKEN = {"dockerd": "usr/sbin/dockerd", "containerd": "usr/bin/containerd",
         "containerd-shim-runc-v2": "usr/bin/containerd-shim-runc-v2", "docker-proxy": "usr/sbin/docker-proxy"}
HOST_RUNC = "/usr/sbin/runc"
MMDEBSTRAP = ("mmdebstrap", "--variant=minbase", "--quiet", "--include=docker.io")  # then the release and dir


def recipe_key(release: Release) -> str:
    taken = (f"{name}={inside}" for name, inside in sorted(TAKEN.items()))
    text = "\n".join([release, *MMDEBSTRAP, *taken, HOST_RUNC]).encode()
    return hashlib.sha256(text).hexdigest()[:12]


def folder(release: Release, cache: Path = CACHE) -> Path:
    return cache / f"{release}-{recipe_key(release)}"


def bin_dir(release: str, cache: Path = CACHE) -> Path | None:
    """The folder a node's dockerd finds its engine in first (None: this machine's own, on PATH)."""
    if release == HOST_RELEASE:
        return None
    return folder(_release(release), cache) / "bin"


def dockerd_extra_args(release: str, cache: Path = CACHE) -> list[str]:
    """dockerd's own options for a release's engine: its docker-proxy named outright (dockerd may look for it
    beside itself, not on PATH)."""
    found = bin_dir(release, cache)
    return [] if found is None else ["--userland-proxy-path", str(found / "docker-proxy")]


def _release(text: str) -> Release:
    for release in RELEASES:
        if text == release:
            return release
    raise SpecError(f"engine {text!r}: use {' or '.join(RELEASES)}")


def parse_engines(text: str, nodes: Sequence[str]) -> dict[str, Release]:
    """`trixie` (every node), `node4=trixie,node5=trixie` (those; the others bookworm), or both
    (`trixie,node1=bookworm`): the release of each node."""
    default: Release = HOST_RELEASE
    chosen: dict[str, Release] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        if "=" in item:
            node, _, release = item.partition("=")
            if node.strip() not in nodes:
                raise SpecError(f"--engine {text}: no node {node.strip()!r}: pick from {', '.join(nodes)}")
            chosen[node.strip()] = _release(release.strip())
        else:
            default = _release(item)
    return {n: chosen.get(n, default) for n in nodes}


def ensure(releases: Sequence[str], progress: Callable[[str], None], cache: Path = CACHE) -> None:
    """Every release's engine ready to run, built first where the cache has none (once: concurrent callers wait
    for one build)."""
    for release in sorted(set(releases)):
        if release == HOST_RELEASE:
            continue
        made = folder(_release(release), cache)
        if _complete(made):
            continue
        with _build_lock(cache):
            if not _complete(made):
                _build(_release(release), made, progress)


def ready(release: str, cache: Path = CACHE) -> bool:
    """The release's engine is built (this machine's own always is)."""
    return release == HOST_RELEASE or _complete(folder(_release(release), cache))


def _complete(made: Path) -> bool:
    return (made / "bin" / "dockerd").exists() and (made / "versions").is_file()


@contextmanager
def _build_lock(cache: Path) -> Iterator[None]:
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        yield


def _build(release: Release, made: Path, progress: Callable[[str], None]) -> None:
    if shutil.which("mmdebstrap") is None:
        raise LabError("mmdebstrap is missing: run `apt-get install mmdebstrap` (or ./scripts/install)")
    if not Path(HOST_RUNC).exists():
        raise LabError(f"{HOST_RUNC} is missing: run `apt-get install runc` (or ./scripts/install)")
    for stale in made.parent.glob("*.build-*"):  # a build killed half way (we hold the build lock)
        _remove(stale)
    work = made.with_name(made.name + f".build-{os.getpid()}")
    work.mkdir(parents=True)
    started = time.monotonic()
    try:
        progress(f"fetching Debian {release}'s docker.io (once, about 30 s)")
        _run([*MMDEBSTRAP, release, str(work / "root")], BUILD_TIMEOUT)
        links = work / "bin"
        links.mkdir()
        for name, inside in TAKEN.items():
            target = made / "root" / inside  # where it will be once renamed
            if not (work / "root" / inside).exists():
                raise LabError(f"Debian {release}'s docker.io has no {inside}: the engine cannot be taken")
            (links / name).symlink_to(target)
        (links / "runc").symlink_to(HOST_RUNC)
        _remove(made)
        work.rename(made)
        said = versions(release, cache=made.parent)
        if "?" in said:  # a part that does not run here (a library this machine lacks): not an engine
            _remove(made)
            raise LabError(f"Debian {release}'s engine does not run here ({said}): see `{made}/root`")
        (made / "versions").write_text(said + "\n")
    finally:
        _remove(work)
    log.info("engine %s built in %s in %.0f s", release, made, time.monotonic() - started)
    used = _in_use()
    for old in made.parent.glob(f"{release}-*"):  # an older recipe's tree, once no lab is up on that release
        if old != made and ".build-" not in old.name and release not in used:
            _remove(old)


def _remove(tree: Path) -> None:
    """A tree gone, mounts first: mmdebstrap killed half way leaves /proc, /sys and /dev mounted inside."""
    if tree.exists():
        unmount_under(str(tree))
        shutil.rmtree(tree, ignore_errors=True)


def _in_use() -> set[str]:
    """The releases some lab that is up runs on one of its nodes (its shims are found through their tree)."""
    used: set[str] = set()
    for name in list_labs():
        try:
            state = load_state(name)
        except LabError:
            continue
        if state is not None:
            used.update(n.engine for n in state.plan.nodes)
    return used


def versions(release: str, cache: Path = CACHE) -> str:
    """One line: the versions of the engine's parts (dockerd, containerd, runc), each as its binary says."""
    found = bin_dir(release, cache)
    path = f"{found}:{os.environ.get('PATH', '')}" if found else os.environ.get("PATH", "")
    parts = []
    for name, argv in (("dockerd", ["dockerd", "--version"]), ("containerd", ["containerd", "--version"]),
                       ("runc", ["runc", "--version"])):
        exe = shutil.which(argv[0], path=path)
        try:
            out = subprocess.run([exe or argv[0], *argv[1:]], capture_output=True, text=True, timeout=20,
                                 check=False).stdout
        except (OSError, subprocess.TimeoutExpired):
            out = ""
        words = out.split()
        version = next((w.strip(",") for w in words if w[:1].isdigit() or w.startswith("v1")), "?")
        parts.append(f"{name} {version}")
    return ", ".join(parts)


def _run(argv: list[str], timeout: float) -> None:
    with subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) as proc:
        try:
            _, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired as exc:
            proc.terminate()  # SIGTERM: mmdebstrap unmounts what it mounted before it exits
            try:
                proc.communicate(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.communicate()
            raise LabError(f"{argv[0]} did not finish within {timeout:.0f} s") from exc
    if proc.returncode != 0:
        last = (err.strip().splitlines() or ["no output"])[-1]
        raise LabError(f"{argv[0]} failed ({proc.returncode}): {last}")
