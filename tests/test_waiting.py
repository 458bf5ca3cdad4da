"""wait_until: the one poll-until-deadline loop, on a fake clock."""

from __future__ import annotations

from pulltheplug.waiting import wait_until


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_it_returns_the_first_truthy_answer() -> None:
    clock = FakeClock()
    answers = iter([None, 0, "node2"])
    assert wait_until(lambda: next(answers), 10.0, 1.0, clock=clock, sleep=clock.sleep) == "node2"
    assert clock.slept == [1.0, 1.0]


def test_it_gives_up_at_the_deadline_after_one_last_look() -> None:
    clock = FakeClock()
    looks: list[float] = []

    def never() -> bool:
        looks.append(clock.now)
        return False

    assert wait_until(never, 2.5, 1.0, clock=clock, sleep=clock.sleep) is None
    assert looks == [0.0, 1.0, 2.0, 2.5]  # the last sleep is cut to the deadline, then one more look
    assert clock.now == 2.5


def test_a_zero_timeout_still_looks_once() -> None:
    clock = FakeClock()
    assert wait_until(lambda: True, 0.0, clock=clock, sleep=clock.sleep) is True and clock.slept == []
