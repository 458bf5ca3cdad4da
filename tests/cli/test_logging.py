"""Diagnostics go through `logging`: `--debug` shows them on stderr, otherwise only warnings and errors do."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from pulltheplug.cli import app
from tests.report.synthetic import synthetic_run, write_run


@pytest.fixture(autouse=True)
def logging_restored() -> Iterator[None]:
    """The CLI configures the process's logging: put it back for the tests that follow."""
    root, package = logging.getLogger(), logging.getLogger("pulltheplug")
    handlers, root_level, package_level = list(root.handlers), root.level, package.level
    yield
    root.handlers[:] = handlers
    root.setLevel(root_level)
    package.setLevel(package_level)


def _report(tmp_path: Path, *flags: str) -> tuple[str, bool]:
    """`pulltheplug [flags] report RUN --format json` on a synthetic run: its stderr, and whether a module of
    the package logs at DEBUG afterwards."""
    folder = write_run(tmp_path / "run", synthetic_run())
    with (folder / "requests.arrow").open("ab") as f:
        f.write(b"\xff\xff\xff\xff\x40\x01")  # a torn last stream, as a killed run leaves: skipped, and said so
    result = CliRunner().invoke(app, [*flags, "report", str(folder), "--format", "json"])
    assert result.exit_code == 1, result.output  # the synthetic run fails its max_outage SLO
    return result.stderr, logging.getLogger("pulltheplug.records.model").isEnabledFor(logging.DEBUG)


def test_debug_shows_diagnostics_on_stderr(tmp_path: Path) -> None:
    stderr, debug = _report(tmp_path, "--debug")
    assert debug
    assert "requests.arrow" in stderr and "torn" in stderr


def test_without_debug_diagnostics_stay_quiet(tmp_path: Path) -> None:
    stderr, debug = _report(tmp_path)
    assert not debug
    assert logging.getLogger("pulltheplug.records.model").isEnabledFor(logging.WARNING)
    assert "torn" not in stderr
