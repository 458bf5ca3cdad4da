"""How node names sort wherever a user reads them: naturally, so node2 comes before node10."""

from __future__ import annotations

import re
from collections.abc import Iterable

_DIGITS = re.compile(r"(\d+)")


def node_sort_key(name: str) -> tuple[tuple[int, int | str], ...]:
    """`name` split into text and numbers, numbers compared as numbers ("node10" -> node, 10).

    Each part is tagged (0 number, 1 text: digits before letters, as in plain string order) so a text part
    never meets a number part in a comparison.
    """
    return tuple((0, int(part)) if part.isdigit() else (1, part) for part in _DIGITS.split(name) if part)


def sorted_nodes(names: Iterable[str]) -> list[str]:
    return sorted(names, key=node_sort_key)
