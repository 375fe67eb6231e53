"""Issue 12 point 8: housekeeping survives Redis or PostgreSQL going away under it. A private redis-server is
killed while the jobs run, then restarted (or this module's database refuses connections for a while); every
job that uses the lost store logs the outage once, retries with a capped back-off (no busy loop: the attempts
are counted), logs its recovery, and the ledger moves into PostgreSQL again."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import asyncpg
import pytest
import pytest_asyncio

from ocs.services import housekeeping as housekeeping_module
from ocs.services.charging import ChargingService
from ocs.services.housekeeping import Housekeeping
from ocs.store.redis_client import RedisStore
from tests.integration.conftest import PG_DSN
from tests.support.private_redis import PrivateRedis

pytestmark = [pytest.mark.asyncio,
              pytest.mark.skipif(not PrivateRedis.available(), reason="needs the redis-server binary")]

JOBS = ("ledger", "reap", "expire")  # "reload" reads PostgreSQL only


class LogRecorder:
    """Stands in for the module's structlog logger, so the events are seen whatever structlog's
    configuration (a logger cached by an earlier test would escape structlog.testing.capture_logs)."""

    def __init__(self) -> None:
        self.events: list[dict[str, object]] = []

    def _record(self, event: str, **fields: object) -> None:
        self.events.append({"event": event, **fields})

    warning = info = error = exception = _record


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, object]]:
    recorder = LogRecorder()
    monkeypatch.setattr(housekeeping_module, "log", recorder)
    return recorder.events


@pytest_asyncio.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[PrivateRedis]:
    server = PrivateRedis(tmp_path)
    await asyncio.to_thread(server.start)
    try:
        yield server
    finally:
        await asyncio.to_thread(server.stop)


async def eventually(check: Callable[[], Awaitable[bool]], seconds: float = 15.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if await check():
            return True
        await asyncio.sleep(0.05)
    return False


async def test_housekeeping_recovers_after_redis_is_killed_and_restarted(
        private_redis: PrivateRedis, pg_pool: asyncpg.Pool,
        logs: list[dict[str, object]]) -> None:
    store = RedisStore(private_redis.url, "hk")
    await store.start()
    charging = ChargingService(store, pg_pool)
    await charging.load()
    account = await charging.open_account("EUR")
    jobs = Housekeeping(charging, reap_interval=0.05, reservation_max_age=3600, expire_interval=0.05,
                        backoff_min=0.05, backoff_max=0.4)
    jobs.writer.block_ms = 100

    async def refs() -> list[str]:
        async with pg_pool.acquire() as conn:
            return [r["ref"] for r in
                    await conn.fetch("SELECT ref FROM ledger WHERE account_id = $1 ORDER BY seq", account)]

    jobs.start()
    try:
        await charging.top_up(account, 100, "before")
        assert await eventually(lambda: _has(refs, "before"))

        await asyncio.to_thread(private_redis.kill)
        failed_at = {job: jobs.failures[job] for job in JOBS}
        outage = 2.0
        attempts_before = {job: jobs.attempts[job] for job in JOBS}
        await asyncio.sleep(outage)
        during = {job: jobs.attempts[job] - attempts_before[job] for job in JOBS}
        # every job noticed, and none spun: 0.05 + 0.1 + 0.2 + 0.4 + 0.4 ... is about 7 attempts in 2 s
        # (without the back-off the reaper alone would try 40 times, the writer thousands)
        for job in JOBS:
            assert jobs.failures[job] > failed_at[job], (job, dict(jobs.failures))
            assert 2 <= during[job] <= 12, (job, during)

        await asyncio.to_thread(private_redis.start)
        await charging.top_up(account, 50, "after")
        assert await eventually(lambda: _has(refs, "after"))
        since = {job: jobs.attempts[job] for job in JOBS}
        for job in JOBS:
            assert await eventually(lambda j=job: _later(jobs, j, since[j]), 5.0), job
    finally:
        await jobs.stop()
        await store.close()
    assert await refs() == ["before", "after"]
    for job in JOBS:
        failed = [e for e in logs if e["event"] == "housekeeping-failed" and e["job"] == job]
        recovered = [e for e in logs if e["event"] == "housekeeping-recovered" and e["job"] == job]
        assert len(failed) == 1, (job, failed)   # logged once per outage, not once per attempt
        assert len(recovered) == 1 and recovered[0]["failed_attempts"] >= 2, (job, recovered)
    assert not [e for e in logs if e["event"] == "housekeeping-bug"]


async def test_housekeeping_recovers_after_a_postgres_outage(
        redis_store: RedisStore, pg_pool: asyncpg.Pool, pg_database: tuple[str, str],
        logs: list[dict[str, object]]) -> None:
    charging = ChargingService(redis_store, pg_pool)
    await charging.load()
    account = await charging.open_account("EUR")
    jobs = Housekeeping(charging, reap_interval=0.05, reservation_max_age=3600, expire_interval=0.05,
                        backoff_min=0.05, backoff_max=0.4)
    jobs.writer.block_ms = 100
    jobs.writer.pg_timeout = 1.0

    async def refs() -> list[str]:
        async with pg_pool.acquire() as conn:
            return [r["ref"] for r in
                    await conn.fetch("SELECT ref FROM ledger WHERE account_id = $1 ORDER BY seq", account)]

    db = pg_database[0]
    admin = await asyncpg.connect(PG_DSN)
    jobs.start()
    try:
        await charging.top_up(account, 100, "before")
        assert await eventually(lambda: _has(refs, "before"))
        try:
            await admin.execute(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS false')
            await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", db)
            await charging.top_up(account, 50, "during")      # Redis takes it; PostgreSQL cannot
            attempts_before = {job: jobs.attempts[job] for job in ("ledger", "reload")}
            await asyncio.sleep(2.0)
            for job in ("ledger", "reload"):
                assert jobs.failures[job] > 0, (job, dict(jobs.failures))
                assert 2 <= jobs.attempts[job] - attempts_before[job] <= 12, (job, dict(jobs.attempts))
        finally:
            await admin.execute(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS true')
        assert await eventually(lambda: _has(refs, "during"))
    finally:
        await jobs.stop()
        await admin.close()
    for job in ("ledger", "reload"):
        assert len([e for e in logs if e["event"] == "housekeeping-failed" and e["job"] == job]) == 1, job
        assert len([e for e in logs if e["event"] == "housekeeping-recovered" and e["job"] == job]) == 1, job
    assert not [e for e in logs if e["event"] == "housekeeping-failed" and e["job"] in ("reap", "expire")]


async def _has(refs: Callable[[], Awaitable[list[str]]], ref: str) -> bool:
    return ref in await refs()


async def _later(jobs: Housekeeping, job: str, attempts: int) -> bool:
    """The job ran again since `attempts` without failing (it is back to its interval)."""
    return jobs.attempts[job] > attempts + 1


async def test_backoff_doubles_and_is_capped(redis_store: RedisStore, pg_pool: asyncpg.Pool) -> None:
    jobs = Housekeeping(ChargingService(redis_store, pg_pool), 60, 3600, 60)
    assert (jobs.backoff_min, jobs.backoff_max) == (0.5, 30.0)
    assert [jobs.backoff(n) for n in (1, 2, 3, 4, 7, 8, 1000)] == [0.5, 1.0, 2.0, 4.0, 30.0, 30.0, 30.0]
