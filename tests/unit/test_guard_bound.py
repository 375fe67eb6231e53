"""The store guard's bound without a timer per call (issue 15): calls due in the same slice share one timer; a
call past its deadline is StoreUnavailable (timed out) while the others finish; a cancellation from elsewhere
is not turned into a timeout; a guard outlives its event loop (tests and the CLI run several)."""

from __future__ import annotations

import asyncio
import time

import pytest

from ocs.store.guard import StoreGuard
from ocs.subscribers.errors import StoreUnavailable


async def test_a_slow_call_times_out_within_the_timeout_and_a_slice_and_fast_ones_succeed():
    guard = StoreGuard("redis", 0.2)

    async def work(seconds: float) -> float:
        await asyncio.sleep(seconds)
        return seconds

    started = time.monotonic()
    results = await asyncio.gather(*(guard.call(work, s) for s in (0.0, 0.01, 5.0, 0.05)), return_exceptions=True)
    elapsed = time.monotonic() - started
    assert results[0] == 0.0 and results[1] == 0.01 and results[3] == 0.05
    assert isinstance(results[2], StoreUnavailable) and "took more than 0.2 s" in results[2].detail
    assert 0.2 <= elapsed < 0.2 + 0.02 + 0.5  # the timeout, one slice (20 ms), and a loaded machine's margin
    assert guard.failures == 1


async def test_calls_due_in_the_same_slice_share_one_timer():
    guard = StoreGuard("redis", 1.0)
    loop = asyncio.get_running_loop()
    timers: list[object] = []
    real_call_at = loop.call_at

    def counting_call_at(when, callback, *args):  # type: ignore[no-untyped-def]
        timers.append(callback)
        return real_call_at(when, callback, *args)

    loop.call_at = counting_call_at  # type: ignore[method-assign]
    try:
        async def quick() -> int:
            await asyncio.sleep(0)
            return 1

        assert sum(await asyncio.gather(*(guard.call(quick) for _ in range(500)))) == 500
    finally:
        del loop.call_at
    assert 1 <= len(timers) <= 3  # 500 calls in one turn: one slice (or two at a boundary), not 500 timers


async def test_a_cancellation_from_elsewhere_stays_a_cancellation():
    guard = StoreGuard("postgres", 5.0)

    async def forever() -> None:
        await asyncio.sleep(60)

    task = asyncio.ensure_future(guard.call(forever))
    await asyncio.sleep(0.01)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert guard.failures == 0


def test_a_guard_works_in_one_event_loop_after_another():
    guard = StoreGuard("redis", 0.05)

    async def slow() -> None:
        await asyncio.sleep(1)

    async def fast() -> str:
        return "ok"

    for _ in range(2):
        assert asyncio.run(guard.call(fast)) == "ok"
        with pytest.raises(StoreUnavailable):
            asyncio.run(guard.call(slow))
