"""Stop signals during a run: real signals sent to this process, from the main thread and from others."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

import pytest

from pulltheplug.run.stop_signals import StopRequested, stop_signals


def _kill_later(delays: list[float], signum: int = signal.SIGINT) -> threading.Thread:
    """A thread (not the main one) that sends `signum` to this process after each delay in turn."""
    def send() -> None:
        for d in delays:
            time.sleep(d)
            os.kill(os.getpid(), signum)

    t = threading.Thread(target=send, daemon=True)
    t.start()
    return t


def test_a_signal_asks_to_stop_and_raises_nothing() -> None:
    with stop_signals() as stops:
        os.kill(os.getpid(), signal.SIGINT)
        time.sleep(0.05)  # the handler runs on the main thread at its next instruction
        assert stops.requested.is_set()
        assert [name for _, name in stops.received] == ["SIGINT"]
        with pytest.raises(StopRequested):
            stops.check()


def test_the_old_handlers_are_back_after_the_block() -> None:
    before = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
    with stop_signals():
        assert signal.getsignal(signal.SIGINT) is not before[0]
    assert (signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == before


def test_two_signals_0_2_s_apart_from_another_thread_never_cut_a_revert_short() -> None:
    steps: list[int] = []
    with stop_signals() as stops:
        sender = _kill_later([0.1, 0.2])  # the second one 0.2 s after the first, both mid-"revert"
        for i in range(10):  # a revert of 0.6 s, in small steps the old default handler would have cut
            time.sleep(0.06)
            steps.append(i)
        sender.join()
        time.sleep(0.05)
    assert steps == list(range(10))
    assert [name for _, name in stops.received] == ["SIGINT", "SIGINT"]
    gap = stops.received[1][0] - stops.received[0][0]
    assert 0.15 < gap < 0.5


def test_a_signal_the_kernel_gives_to_another_thread_still_reaches_the_handler() -> None:
    """What the old mask on the main thread alone missed: the thread that takes the signal does not matter."""
    parked = threading.Event()
    release = threading.Event()

    def observer() -> None:
        parked.set()
        release.wait(5)

    t = threading.Thread(target=observer, daemon=True)
    t.start()
    parked.wait(5)
    with stop_signals() as stops:
        assert t.ident is not None
        signal.pthread_kill(t.ident, signal.SIGTERM)
        time.sleep(0.3)  # a plain sleep: nothing may raise in it
        release.set()
    t.join(5)
    assert [name for _, name in stops.received] == ["SIGTERM"]


def test_sleep_ends_early_on_a_signal_from_another_thread() -> None:
    with stop_signals() as stops:
        _kill_later([0.1], signal.SIGTERM)
        start = time.monotonic()
        with pytest.raises(StopRequested):
            stops.sleep(5.0)
        assert time.monotonic() - start < 1.0


def test_the_first_signal_cancels_the_loop_s_task_and_the_second_is_only_said() -> None:
    """The runner's use: the first signal cancels the phases (their `finally` runs to its end), a second one
    while that `finally` is still busy (a revert) cuts nothing."""
    finished: list[str] = []

    async def phases() -> None:
        try:
            await asyncio.sleep(10)
        finally:
            await asyncio.sleep(0.5)  # the second signal lands here
            finished.append("finally")

    async def main() -> None:
        loop, task = asyncio.get_running_loop(), asyncio.current_task()
        assert task is not None
        with stops.calling(lambda: loop.call_soon_threadsafe(task.cancel)):
            await phases()

    with stop_signals() as stops:
        _kill_later([0.2, 0.2])
        start = time.monotonic()
        with pytest.raises(asyncio.CancelledError):
            asyncio.run(main())
        assert time.monotonic() - start < 2.0
        time.sleep(0.1)
    assert finished == ["finally"]
    assert len(stops.received) == 2
