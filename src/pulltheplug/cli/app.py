"""The Typer application and its global options."""

from __future__ import annotations

import logging
from dataclasses import dataclass

import typer
from rich.console import Console
from rich.logging import RichHandler

from pulltheplug import __version__


@dataclass
class GlobalState:
    debug: bool = False


state = GlobalState()

app = typer.Typer(
    help="Pull the plug on a cluster node and measure what its users feel.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"pulltheplug {__version__}")
        raise typer.Exit()


class _CliLogHandler(RichHandler):
    """The one handler the CLI puts on the root logger (a second command in one process replaces it)."""


def configure_logging(debug: bool) -> None:
    """Warnings and errors on stderr; with `debug`, pulltheplug's own diagnostics too (not every library's)."""
    root = logging.getLogger()
    root.handlers[:] = [h for h in root.handlers if not isinstance(h, _CliLogHandler)]
    handler = _CliLogHandler(console=Console(stderr=True), show_path=False, rich_tracebacks=debug)
    handler.setFormatter(logging.Formatter("%(name)s: %(message)s"))
    root.addHandler(handler)
    root.setLevel(logging.WARNING)
    logging.getLogger("pulltheplug").setLevel(logging.DEBUG if debug else logging.NOTSET)


@app.callback()
def main_options(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors, and "
                               "diagnostics (what a broad except caught, what was skipped)."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    state.debug = debug
    configure_logging(debug)


# the command groups register themselves on import
from pulltheplug.cli import (  # noqa: E402,F401
    campaign_cmd,
    cluster_cmd,
    doctor_cmd,
    lab_cmd,
    load_cmd,
    report_cmd,
    run_cmd,
    schema_cmd,
)
