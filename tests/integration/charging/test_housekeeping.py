"""The daemon's background jobs against the real Redis and PostgreSQL: reaping, expiry, catalog reload."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from ocs.charging import Tariff, Unit, UnknownTariff
from ocs.services.charging import ChargingService
from ocs.services.housekeeping import Housekeeping
from ocs.store.redis_client import RedisStore

pytestmark = pytest.mark.asyncio


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 10.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.02)
    return False


async def test_jobs_reap_reload_and_flush(redis_store: RedisStore, pg_pool: asyncpg.Pool,
                                          new_account: Callable[..., Awaitable[str]]) -> None:
    daemon_side = ChargingService(redis_store, pg_pool)
    cli_side = ChargingService(redis_store, pg_pool)   # another process: the CLI
    await cli_side.set_tariff(Tariff(5, Unit.OCTETS, 1, 1, 1, "EUR"))
    await daemon_side.load()
    imsi = await new_account(balance=1000)
    old = time.time() - 7200
    await daemon_side.reserve(imsi, "stale", 5, 300, now=old)
    jobs = Housekeeping(daemon_side, reap_interval=0.05, reservation_max_age=3600, expire_interval=0.05)
    jobs.start()
    try:
        # a stale reservation is given back
        async def released() -> bool:
            return (await daemon_side.account(imsi)).held == 0
        assert await eventually(released)
        # a tariff set elsewhere reaches the daemon's cache
        await cli_side.set_tariff(Tariff(6, Unit.SECONDS, 60, 10, 10, "EUR"))

        async def reloaded() -> bool:
            try:
                return daemon_side.tariff(6).unit_size == 60
            except UnknownTariff:
                return False
        assert await eventually(reloaded)
        await daemon_side.top_up(imsi, 5, "late")
    finally:
        await jobs.stop()   # flushes the ledger
    async with pg_pool.acquire() as conn:
        refs = [r["ref"] for r in await conn.fetch("SELECT ref FROM ledger WHERE account_id = $1 ORDER BY seq", imsi)]
    assert refs[-1] == "late"
