"""Whether the control plane is available, from each manager's latest polls: a pure function, no threads.

Raft needs a majority of all managers, and a manager cut off from the others keeps answering with a
stale view naming the old leader. So the plane counts as available only while a majority of ALL managers
answer AND name the same leader; the view to adopt is one of theirs. A manager is silent from the start
of its first poll that got no answer (an error, or a call still in flight past `staleness`): the limit
decides that a hanging call is silence, the start of that call dates it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True, slots=True)
class Answer:
    """One manager's answer: when it came (run clock), the leader it names, the raw node and task lists."""

    at: float
    leader: str | None
    nodes: list[dict[str, Any]] = field(default_factory=list)
    tasks: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class ManagerState:
    """What one manager's polls have shown so far; its poller replaces it whole, so readers see one state.

    `leader_since`: the first of the answers in a row, with no silence between, naming `answer.leader`.
    `asking_since`: start of the first poll since the last answer (in flight or failed), None when none.
    `error`: why a poll since the last answer failed; None while none has.
    """

    answer: Answer | None = None
    leader_since: float = 0.0
    asking_since: float | None = None
    error: str | None = None

    def asking(self, t: float) -> ManagerState:
        """A poll starts at t (the first unanswered one keeps its start)."""
        return self if self.asking_since is not None else replace(self, asking_since=t)

    def failed(self, error: str) -> ManagerState:
        """The poll in flight ended without an answer."""
        return replace(self, error=error)

    def answered(self, answer: Answer, staleness: float) -> ManagerState:
        """The poll in flight answered; a silence before it, or a new leader, starts a new run of answers."""
        previous = self.answer
        unbroken = (previous is not None and previous.leader == answer.leader
                    and self.silent_since(answer.at, staleness) is None)
        return ManagerState(answer, self.leader_since if unbroken else answer.at)

    def silent_since(self, now: float, staleness: float) -> float | None:
        """The start of its first unanswered poll, if it counts as silent at `now`; None while it answers."""
        if self.answer is None or self.error is not None:
            return self.asking_since if self.asking_since is not None else now
        if self.asking_since is not None and now - self.asking_since > staleness:
            return self.asking_since
        return None

    def why_silent(self, now: float) -> str:
        if self.error is not None:
            return self.error
        return "not asked yet" if self.asking_since is None else f"no answer for {now - self.asking_since:.1f}s"


@dataclass(frozen=True, slots=True)
class Quorum:
    """The control plane at one moment. `since`: when this verdict began, as far as the polls tell.

    Available: `manager` is one of the agreeing majority (the view to adopt), `leader` the one they name.
    Unavailable: `error` says who answers, who claims whom, and who is silent since when and why.
    """

    available: bool
    since: float
    manager: str | None
    leader: str | None
    silent: dict[str, float]  # manager -> silent since
    error: str | None = None


def quorum(states: Mapping[str, ManagerState], now: float, staleness: float, leader: str | None = None,
           manager: str | None = None) -> Quorum:
    """`leader`: the one agreed on so far (dates when that agreement broke); `manager`: the manager asked so
    far, kept while it agrees (switching views back and forth is noise)."""
    majority = len(states) // 2 + 1
    silent = {m: t for m, s in states.items() if (t := s.silent_since(now, staleness)) is not None}
    answering = {m: s for m, s in states.items() if m not in silent}
    claims = {m: s.answer.leader for m, s in answering.items() if s.answer is not None}
    votes = Counter(c for c in claims.values() if c is not None)
    top, count = votes.most_common(1)[0] if votes else (None, 0)
    if top is not None and count >= majority:
        agreeing = {m: s for m, s in answering.items() if claims.get(m) == top}
        since = sorted(s.leader_since for s in agreeing.values())[majority - 1]
        chosen = manager if manager in agreeing else max(agreeing, key=lambda m: _answer_time(agreeing[m]))
        return Quorum(True, since, chosen, top, silent)
    # the agreement broke when the (n - majority + 1)-th manager stopped naming `leader`
    left = sorted([*silent.values(),
                   *(s.leader_since for m, s in answering.items() if leader is None or claims.get(m) != leader)])
    needed = len(states) - majority + 1
    since = left[min(needed, len(left)) - 1] if left else now
    error = f"{len(claims)} of {len(states)} managers answer"
    if claims:
        error += ": " + ", ".join(f"{m} (says leader {c})" for m, c in sorted(claims.items()))
    if len(claims) >= majority:
        error += "; no majority names the same leader"
    if silent:
        error += "; silent: " + "; ".join(f"{m} since {t:.2f}s: {states[m].why_silent(now)}"
                                          for m, t in sorted(silent.items()))
    return Quorum(False, since, None, None, silent, error)


def _answer_time(state: ManagerState) -> float:
    return state.answer.at if state.answer is not None else float("-inf")
