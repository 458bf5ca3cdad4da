"""`pulltheplug cluster trust|check`: bad input is one line and exit 2; nothing is contacted then."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

import pulltheplug

CLI = [sys.executable, "-m", "pulltheplug"]
SRC = str(Path(pulltheplug.__file__).parents[1])  # this checkout's package, whatever the working folder


def cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": SRC, "COLUMNS": "200"}
    return subprocess.run([*CLI, *args], capture_output=True, text=True, timeout=60, cwd=cwd, env=env)


@pytest.mark.parametrize("command", ["trust", "check"])
def test_a_bad_inventory_is_one_line_exit_2(tmp_path: Path, command: str) -> None:
    (tmp_path / "hosts.yaml").write_text("hosts:\n  pi1: {address: 10.0.0.1, port: zero}\n")
    proc = cli("cluster", command, "hosts.yaml", cwd=tmp_path)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "hosts.yaml: host pi1: port:" in lines[0], proc.stderr


def test_unknown_planned_fault_is_one_line_exit_2(tmp_path: Path) -> None:
    (tmp_path / "hosts.yaml").write_text("hosts:\n  pi1: {address: 127.0.0.1}\n")
    proc = cli("cluster", "check", "hosts.yaml", "--faults", "nic-down,unplug", cwd=tmp_path)
    assert proc.returncode == 2 and "--faults 'nic-down,unplug': use" in proc.stderr


def test_check_of_a_host_that_refuses_says_so_and_exits_2(tmp_path: Path) -> None:
    with socket.socket() as bound:
        bound.bind(("127.0.0.1", 0))
        port = bound.getsockname()[1]
        (tmp_path / "hosts.yaml").write_text(f"hosts:\n  pi1: {{address: 127.0.0.1, port: {port}}}\n")
        (tmp_path / "kh").write_text("")
        proc = cli("cluster", "check", "hosts.yaml", "--known-hosts", "kh", "--json", "--timeout", "2",
                   cwd=tmp_path)
    assert proc.returncode == 2, proc.stderr
    [host] = json.loads(proc.stdout)["hosts"]
    assert not host["passes"] and host["facts"]["error"].startswith(f"cannot reach 127.0.0.1:{port}")
