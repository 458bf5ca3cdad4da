"""The control plane's verdict from each manager's latest polls: synthetic states, no threads, no docker."""

from __future__ import annotations

from pulltheplug.observe.quorum import Answer, ManagerState, quorum

STALENESS = 1.0


def answering(leader: str, since: float, at: float | None = None) -> ManagerState:
    """Answers naming `leader` from `since` on, the last one at `at`."""
    state = ManagerState().asking(since).answered(Answer(since, leader), STALENESS)
    return state if at is None else state.asking(at).answered(Answer(at, leader), STALENESS)


def test_two_of_three_answering_but_naming_different_leaders_is_unavailable() -> None:
    states = {"node1": answering("node1", 0.0, 9.9), "node2": answering("node2", 9.5, 9.9),
              "node3": answering("node1", 0.0, 5.0).asking(5.25).failed("ConnectionError: refused")}
    q = quorum(states, 10.0, STALENESS, leader="node1")
    assert not q.available and q.manager is None
    assert q.since == 9.5  # node3 silent since 5.25, then node2 stopped naming node1
    assert q.error is not None
    assert "node1 (says leader node1), node2 (says leader node2)" in q.error
    assert "no majority names the same leader" in q.error and "node3 since 5.25s: ConnectionError" in q.error


def test_two_of_three_agreeing_is_available_with_their_view() -> None:
    states = {"node1": answering("node1", 0.0, 9.0).asking(9.25),  # hangs since 9.25
              "node2": answering("node1", 0.0, 9.0).asking(9.2).answered(Answer(11.0, "node2"), STALENESS),
              "node3": answering("node2", 11.1)}
    q = quorum(states, 11.2, STALENESS, leader="node1", manager="node1")
    assert q.available and q.leader == "node2" and q.manager in ("node2", "node3")
    assert q.since == 11.1  # the second manager to name node2
    assert q.silent == {"node1": 9.25}


def test_a_hanging_call_is_silence_from_its_start_once_past_the_staleness() -> None:
    state = answering("node1", 0.0, 9.9).asking(10.0)
    assert state.silent_since(10.9, STALENESS) is None  # could still answer
    assert state.silent_since(11.1, STALENESS) == 10.0
    assert state.asking(10.25).silent_since(11.1, STALENESS) == 10.0  # the first unanswered poll dates it


def test_an_answer_after_silence_starts_a_new_run_of_answers() -> None:
    state = answering("node1", 0.0, 9.9).asking(10.0).failed("timeout")
    assert state.silent_since(10.05, STALENESS) == 10.0
    back = state.asking(10.5).answered(Answer(10.6, "node1"), STALENESS)
    assert back.silent_since(10.7, STALENESS) is None and back.leader_since == 10.6
    steady = back.asking(10.85).answered(Answer(10.9, "node1"), STALENESS)
    assert steady.leader_since == 10.6
