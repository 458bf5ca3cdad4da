"""What doors whose load runs on the controller share: no namespace to enter, names resolved the usual way,
no node a fault must spare."""

from __future__ import annotations


class FromController:
    netns = None

    def avoid(self) -> str | None:
        return None

    def resolver(self) -> None:
        return None
