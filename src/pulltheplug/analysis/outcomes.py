"""How requests ended: outcome counts, and what went wrong with the ones that failed."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Outcomes:
    """`info` is Jepsen's indeterminate: a timeout may or may not have reached the service.

    `requests` is every due request: ok + fail + info of those sent, plus `not_sent`, the ones the run
    was stopped before it could send (they are judged nowhere, only counted here).
    """

    requests: int
    ok: int
    fail: int
    info: int
    not_sent: int


