"""The housekeeping lease on the real Redis (ocs/services/lease.py): one holder at a time, handed over at a
clean stop, and taken over after the ttl when the holder dies without a word."""

from __future__ import annotations

import asyncio

import pytest

from ocs.services.lease import Lease, LeaseRunner
from ocs.store.redis_client import RedisStore

pytestmark = pytest.mark.asyncio


def runner(store: RedisStore, owner: str, log: list[str], ttl: float = 0.6) -> LeaseRunner:
    async def acquired() -> None:
        log.append(f"{owner}+")

    async def lost() -> None:
        log.append(f"{owner}-")

    return LeaseRunner(Lease(store, "housekeeping", owner, ttl), acquired, lost)


async def test_one_holder_handover_at_stop_and_takeover_after_a_death(redis_store: RedisStore) -> None:
    log: list[str] = []
    a, b, c = (runner(redis_store, o, log) for o in ("a", "b", "c"))
    a.start()
    await asyncio.sleep(0.1)
    b.start()
    await asyncio.sleep(0.5)  # b tried more than once
    assert log == ["a+"] and a.held and not b.held
    await a.stop()  # a clean stop deletes the key: b takes it at its next try
    await asyncio.sleep(0.4)
    assert log == ["a+", "a-", "b+"]
    # b dies without a word (its task is stopped, the key left to expire): c takes over after the ttl
    assert b._task is not None
    b._task.cancel()
    c.start()
    await asyncio.sleep(0.3)
    assert not c.held  # still b's
    await asyncio.sleep(0.8)
    assert c.held and log[-1] == "c+"
    assert await c.lease.holder() == "c"
    # b comes back and renews: refused, it notices it lost the lease
    b.held = True
    await b.step()
    assert not b.held and log[-1] == "b-"
    await c.stop()
    assert await c.lease.holder() is None
