"""The Typer application and its global options."""

from __future__ import annotations

from dataclasses import dataclass

import typer

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


@app.callback()
def main_options(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks instead of one-line errors."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version."),
) -> None:
    state.debug = debug


# the command groups register themselves on import
from pulltheplug.cli import campaign_cmd, doctor_cmd, lab_cmd, report_cmd, run_cmd  # noqa: E402,F401
