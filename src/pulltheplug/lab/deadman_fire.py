"""What the lab's dead-man does when it wakes (`python -m pulltheplug.lab.deadman_fire LAB SECONDS`, started
by lab/deadman.py): heal the lab if a fault or a run's swarm settings are still noted in it."""

from __future__ import annotations

import logging
import sys

from pulltheplug.lab.lab import Lab

log = logging.getLogger(__name__)


def fire(name: str, seconds: float) -> list[str]:
    """Heal the lab if a fault is still noted, `seconds` after the dead-man was armed; what was done."""
    lab = Lab.open(name)
    fault, settings = lab.active_fault(), lab.noted_settings()
    if fault is None and settings is None:
        return []
    log.warning("lab %s: fault %s, swarm settings to put back %s, %.0fs after it was armed: healing", name, fault,
                settings, seconds)
    return lab.heal()


def main(argv: list[str]) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s deadman %(message)s")
    name, seconds = argv[0], float(argv[1])  # the shell that armed it has slept those seconds
    for line in fire(name, seconds):
        log.info("%s", line)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
