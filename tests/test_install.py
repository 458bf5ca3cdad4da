"""A fresh install, as a new user makes it: the package and its pinned dependencies in a new venv, and every
command quiet but for what it has to say (a warning printed by a dependency's import is on every command)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def fresh_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A new venv with the package installed from this tree, pinned by constraints.txt as scripts/install does."""
    where = tmp_path_factory.mktemp("fresh") / "venv"
    venv.EnvBuilder(with_pip=True).create(where)
    pip = [str(where / "bin" / "pip"), "install", "-q", "--disable-pip-version-check",
           "-c", str(ROOT / "constraints.txt")]
    subprocess.run([*pip, "--upgrade", "pip"], check=True, capture_output=True, timeout=300)
    tree = where.parent / "tree"  # a copy: building the package writes build/ and *.egg-info/ beside its source
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(".git", ".venv", "build", "*.egg-info", "__pycache__",
                                                              ".*_cache", "runs", "artifacts"))
    subprocess.run([*pip, str(tree)], check=True, capture_output=True, timeout=900)
    return where


def _cli(venv_dir: Path, *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}  # a user's shell sets none
    return subprocess.run([str(venv_dir / "bin" / "pulltheplug"), *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd, env=env)


def test_version_is_one_line_and_nothing_on_stderr(fresh_venv: Path, tmp_path: Path) -> None:
    done = _cli(fresh_venv, "--version", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stdout.splitlines() == [done.stdout.strip()] and done.stdout.startswith("pulltheplug ")
    assert done.stderr == ""


def test_a_command_that_loads_the_ssh_library_prints_only_its_error(fresh_venv: Path, tmp_path: Path) -> None:
    """`cluster check` imports asyncssh before it reads the inventory: its one error line is all a user sees."""
    done = _cli(fresh_venv, "cluster", "check", str(tmp_path / "missing.yaml"), cwd=tmp_path)
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1 and "missing.yaml" in done.stderr


def test_the_installed_versions_are_the_pinned_ones(fresh_venv: Path) -> None:
    """What the fresh venv resolved equals constraints.txt for every package both name: the tested set."""
    pinned = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, version = line.split("==")
            pinned[name.lower().replace("_", "-")] = version
    frozen = subprocess.run([str(fresh_venv / "bin" / "pip"), "freeze", "--all", "--disable-pip-version-check"],
                            capture_output=True, text=True, check=True, timeout=60).stdout
    installed = dict(line.lower().replace("_", "-").split("==") for line in frozen.splitlines() if "==" in line)
    differ = {n: (v, pinned[n]) for n, v in installed.items() if n in pinned and pinned[n] != v}
    assert not differ, f"installed (left) differs from constraints.txt (right): {differ}"
    assert installed.get("cryptography") == pinned["cryptography"]


def test_importing_the_ssh_backend_warns_of_nothing() -> None:
    """Warnings made errors: asyncssh's import (DSA names deprecated by cryptography) must not raise."""
    code = "import pulltheplug.ssh.session, pulltheplug.ssh.trust"
    done = subprocess.run([sys.executable, "-W", "error", "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
