"""The `pulltheplug` command: parses, calls the core, renders. No logic lives here."""

from __future__ import annotations

import signal
import sys
from types import FrameType

from rich.console import Console

from pulltheplug.cli.app import app, state
from pulltheplug.errors import PulltheplugError

err = Console(stderr=True)


def _sigterm(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # same clean-up path as Ctrl-C


def main() -> None:
    signal.signal(signal.SIGTERM, _sigterm)
    try:
        app()
    except PulltheplugError as exc:
        if state.debug:
            raise
        err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]")
        sys.exit(130)
