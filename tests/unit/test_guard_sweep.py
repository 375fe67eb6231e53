"""The swept store guard (ocs.store.guard_sweep): a call past its bound fails as the store being unavailable
within 1.25 x the timeout, a cancellation from elsewhere still propagates, answers and errors pass through."""

from __future__ import annotations

import asyncio
import time

import pytest

from ocs.store.guard_sweep import SweptStoreGuard
from ocs.subscribers.errors import StoreUnavailable


async def answer(value: int, delay: float = 0.0) -> int:
    await asyncio.sleep(delay)
    return value


async def refused() -> int:
    raise ConnectionError("Redis connection lost")


def test_answers_and_store_errors():
    async def main() -> None:
        g = SweptStoreGuard("redis", 0.2)
        assert await asyncio.gather(*(g.call(answer, i) for i in range(50))) == list(range(50))
        with pytest.raises(StoreUnavailable):
            await g.call(refused)
        assert g.failures == 1
        assert await g.call(answer, 7) == 7 and g.failures == 0  # recovered

    asyncio.run(main())


def test_a_hung_call_times_out_and_others_are_left_alone():
    async def main() -> None:
        g = SweptStoreGuard("redis", 0.2)
        started = time.monotonic()
        hung = asyncio.ensure_future(g.call(answer, 1, 10.0))
        quick = [asyncio.ensure_future(g.call(answer, i, 0.05)) for i in range(5)]
        with pytest.raises(StoreUnavailable) as e:
            await hung
        assert 0.2 <= time.monotonic() - started <= 0.2 * 1.25 + 0.2
        assert "timed out" in str(e.value)
        assert [await q for q in quick] == list(range(5))
        assert g._calls == {} and g._expired == set()

    asyncio.run(main())


def test_a_cancellation_from_elsewhere_propagates():
    async def main() -> None:
        g = SweptStoreGuard("redis", 5.0)
        task = asyncio.ensure_future(g.call(answer, 1, 10.0))
        await asyncio.sleep(0.01)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        assert g._calls == {}

    asyncio.run(main())
