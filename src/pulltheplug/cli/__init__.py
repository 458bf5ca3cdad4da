"""The `pulltheplug` command: parses, calls the core, renders. No logic lives here."""

from __future__ import annotations

import signal
import sys
from types import FrameType

import docker
import requests
from rich.console import Console
from rich.markup import escape

from pulltheplug.cli.app import app, state
from pulltheplug.errors import PulltheplugError

err = Console(stderr=True)


def _sigterm(signum: int, frame: FrameType | None) -> None:
    signal.raise_signal(signal.SIGINT)  # the same path as Ctrl-C (inside a run: asyncio's graceful cancel)


def main() -> None:
    signal.signal(signal.SIGTERM, _sigterm)
    try:
        app()
    except PulltheplugError as exc:
        if state.debug:
            raise
        err.print(f"[bold red]error:[/] {escape(str(exc))}", highlight=False, soft_wrap=True)
        sys.exit(2)
    except KeyboardInterrupt:
        err.print("[yellow]interrupted[/]")
        sys.exit(130)
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        if state.debug:
            raise
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        err.print(f"[bold red]error:[/] the Docker API failed: {first} (see `pulltheplug lab status`)",
                  highlight=False, soft_wrap=True)
        sys.exit(2)
