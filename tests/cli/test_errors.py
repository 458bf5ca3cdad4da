"""Bad input gets one line that says what to do, and exit code 2; nothing is made."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pulltheplug.errors import LabError
from pulltheplug.lab import lab as labmod

CLI = [sys.executable, "-m", "pulltheplug"]


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60, cwd=cwd)


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("fault:\n  kind: nic-down\n  duration: 2x\n", "spec.yaml:3: fault.duration"),
        ("fault:\n  kind: unplug\n", "spec.yaml:2: fault.kind"),
        ("load:\n  rate: -5\n", "spec.yaml:2: load.rate"),
        ("cluster:\n  lab: ../etc\n", "spec.yaml:2: cluster.lab"),
        ("fault: [1, 2\n", "not valid YAML"),
    ],
)
def test_a_wrong_spec_is_one_line_naming_field_and_line(tmp_path: Path, spec: str, message: str) -> None:
    (tmp_path / "spec.yaml").write_text(spec)
    proc = cli("run", "spec.yaml", "--runs-dir", "runs", cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], proc.stderr
    assert not (tmp_path / "runs").exists()


def test_a_missing_spec_file_says_where_examples_are(tmp_path: Path) -> None:
    proc = cli("run", "nope.yaml", cwd=tmp_path)
    assert proc.returncode == 2 and "scenarios/" in proc.stderr


def test_report_of_a_folder_that_is_not_a_run(tmp_path: Path) -> None:
    proc = cli("report", str(tmp_path), cwd=tmp_path)
    assert proc.returncode == 2 and "not a run folder" in proc.stderr


@pytest.mark.parametrize("name", ["..", ".", "/", "a/b", "lab/../x"])
def test_lab_names_that_are_paths_are_refused_before_anything(name: str) -> None:
    # `down` kills a cgroup and deletes a folder named after the lab: a path must never get there
    with pytest.raises(LabError, match="not valid"):
        labmod.down(name)


def test_a_run_name_that_is_a_path_is_refused(tmp_path: Path) -> None:
    proc = cli("run", "--name", "../escape", "--runs-dir", "runs", cwd=tmp_path)
    assert proc.returncode == 2 and "name" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "runs").exists()
