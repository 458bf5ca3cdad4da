"""How requests ended: outcome counts, and what went wrong with the ones that failed."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

from pulltheplug.analysis.outages import error_kind
from pulltheplug.records.model import RequestRecord


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


def outcome_counts(requests: Sequence[RequestRecord]) -> Outcomes:
    c = Counter(r.outcome for r in requests if r.was_sent)
    not_sent = sum(not r.was_sent for r in requests)
    return Outcomes(requests=len(requests), ok=c["ok"], fail=c["fail"], info=c["info"], not_sent=not_sent)


def errors_by_kind(requests: Sequence[RequestRecord]) -> dict[str, int]:
    """Error kind -> count over non-ok requests, most frequent first."""
    return dict(Counter(error_kind(r) for r in requests if r.outcome != "ok").most_common())
