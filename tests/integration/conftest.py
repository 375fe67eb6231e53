"""Integration fixtures: the real Redis and PostgreSQL.

A fresh PostgreSQL database per test module (random name, migrated, dropped after) and a unique Redis key
prefix per test (its keys deleted after). URLs: OCSD_TEST_REDIS_URL, OCSD_TEST_PG_DSN.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest
import pytest_asyncio
import redis.asyncio as aioredis

from ocs.services.charging import ChargingService
from ocs.store.migrations import migrate
from ocs.store.redis_client import RedisStore

REDIS_URL = os.environ.get("OCSD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_DSN = os.environ.get("OCSD_TEST_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def dsn_for(database: str) -> str:
    base, _, _ = PG_DSN.rpartition("/")
    return f"{base}/{database}"


async def create_database(name: str) -> str:
    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    dsn = dsn_for(name)
    conn = await asyncpg.connect(dsn)
    try:
        await migrate(conn)
    finally:
        await conn.close()
    return dsn


async def drop_database(name: str) -> None:
    conn = await asyncpg.connect(PG_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def pg_database() -> AsyncIterator[tuple[str, str]]:
    """(name, dsn) of a migrated database for this test module."""
    name = "ocsd_test_" + secrets.token_hex(6)
    dsn = await create_database(name)
    try:
        yield name, dsn
    finally:
        await drop_database(name)


@pytest_asyncio.fixture
async def pg_pool(pg_database: tuple[str, str]) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(pg_database[1], min_size=1, max_size=8)
    try:
        yield pool
    finally:
        await pool.close()


@pytest_asyncio.fixture
async def redis_prefix() -> AsyncIterator[str]:
    prefix = "ocstest-" + secrets.token_hex(6)
    try:
        yield prefix
    finally:
        client = aioredis.Redis.from_url(REDIS_URL)
        try:
            keys = [k async for k in client.scan_iter(match=prefix + ":*", count=5000)]
            for i in range(0, len(keys), 1000):
                await client.delete(*keys[i:i + 1000])
        finally:
            await client.aclose()


@pytest_asyncio.fixture
async def redis_store(redis_prefix: str) -> AsyncIterator[RedisStore]:
    store = RedisStore(REDIS_URL, redis_prefix)
    await store.start()
    try:
        yield store
    finally:
        await store.close()


_counter = iter(range(10**9))


@pytest.fixture
def new_subscriber(pg_pool: asyncpg.Pool) -> Callable[[], Awaitable[str]]:
    """Insert a subscriber row (dummy keys) and return its IMSI (MSISDN = '7' + last 10 digits)."""

    async def make() -> str:
        n = next(_counter)
        imsi = f"00101{secrets.randbelow(10**6):06d}{n % 10000:04d}"
        async with pg_pool.acquire() as conn:
            await conn.execute("INSERT INTO subscribers (imsi, msisdn, k_enc, opc_enc) VALUES ($1, $2, $3, $4)",
                               imsi, "7" + imsi[-10:], b"\x00" * 44, b"\x00" * 44)
        return imsi

    return make


@pytest_asyncio.fixture
async def service(redis_store: RedisStore, pg_pool: asyncpg.Pool) -> ChargingService:
    svc = ChargingService(redis_store, pg_pool)
    await svc.load()
    return svc


@pytest.fixture
def new_account(service: ChargingService,
                new_subscriber: Callable[[], Awaitable[str]]) -> Callable[..., Awaitable[str]]:
    """A subscriber with its own open account, optionally topped up; returns the account id (the SIM is
    `await service.sims(account)`, its IMSI also found by `account_of_imsi`)."""

    async def make(balance: int = 0, currency: str = "EUR") -> str:
        imsi = await new_subscriber()
        account = await service.open_account(currency)
        await service.link_sim(account, imsi, "7" + imsi[-10:])
        if balance:
            await service.top_up(account, balance, "initial-" + secrets.token_hex(4))
        return account

    return make
