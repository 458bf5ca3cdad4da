"""What the `cluster` commands offer before any host is reached: their defaults and choices.

Kept apart from the sessions so that parsing a command line (and `--help`) never loads the SSH library.
"""

from __future__ import annotations

from pathlib import Path

PLANNABLE_FAULTS: tuple[str, ...] = ("nic-down", "freeze", "reboot", "power-loss", "partition", "loss", "flap",
                                     "task-kill", "engine-crash", "quorum-loss")
DEFAULT_FAULTS: tuple[str, ...] = ("nic-down", "reboot", "power-loss")  # the seed's three
DEFAULT_KNOWN_HOSTS = Path("~/.config/pulltheplug/known_hosts")
