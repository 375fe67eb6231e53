"""The store guard on the request path with the real PostgreSQL and Redis: a call slower than the timeout, or
a store that cannot be reached, is StoreUnavailable (a transient answer) quickly; an outage is logged once at
its start and once at its end with a count; the pool and the pipeline work again afterwards."""

from __future__ import annotations

import time

import asyncpg
import pytest
import structlog

from ocs.store.guard import StoreGuard
from ocs.store.redis_client import RedisStore
from ocs.store.registrations import PgRegistrations
from ocs.subscribers.errors import StoreUnavailable
from tests.support.daemon_process import free_port

pytestmark = pytest.mark.integration


async def test_a_slow_query_is_store_unavailable_within_the_timeout_and_logged_once(pg_pool: asyncpg.Pool):
    guard = StoreGuard("postgres", 0.2)

    async def slow() -> None:
        async with pg_pool.acquire() as conn:
            await conn.execute("SELECT pg_sleep(3)")

    with structlog.testing.capture_logs() as logs:
        for _ in range(3):
            started = time.monotonic()
            with pytest.raises(StoreUnavailable) as e:
                await guard.call(slow)
            assert time.monotonic() - started < 1.0 and e.value.store == "postgres"
        assert await guard.call(PgRegistrations(pg_pool).profile, "001019999999999") is None  # works again
    events = [(entry["event"], entry.get("failed_calls")) for entry in logs]
    assert events == [("store-unavailable", None), ("store-recovered", 3)]


async def test_an_unreachable_store_is_store_unavailable_at_once():
    guard = StoreGuard("redis", 2.0)
    store = RedisStore(f"redis://127.0.0.1:{free_port()}/0", "ocstest-nothing")  # nobody listens there
    try:
        started = time.monotonic()
        with pytest.raises(StoreUnavailable):
            await guard.call(store.evalsha, "release", ["k"], [])
        assert time.monotonic() - started < 1.0 and guard.failures == 1
    finally:
        await store.close()


async def test_errors_that_are_not_the_stores_pass_through(pg_pool: asyncpg.Pool):
    guard = StoreGuard("postgres", 1.0)

    async def wrong() -> None:
        async with pg_pool.acquire() as conn:
            await conn.execute("SELECT * FROM no_such_table")

    with pytest.raises(asyncpg.UndefinedTableError):
        await guard.call(wrong)
    assert guard.failures == 0
