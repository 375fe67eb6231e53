"""The ledger writer (Redis -> PostgreSQL exactly once, through a PostgreSQL outage) and the rebuild."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Awaitable, Callable

import asyncpg
import pytest

from ocs.charging import Allowances, BundleDefinition, BundleKind, Tariff, Unit
from ocs.services.charging import ChargingService
from ocs.store.ledger import LedgerWriter
from ocs.store.redis_client import RedisStore
from tests.integration.conftest import PG_DSN, REDIS_URL

pytestmark = pytest.mark.asyncio

NOW = 1_700_000_000.0
NewAccount = Callable[..., Awaitable[str]]


async def stream_entries(store: RedisStore, imsis: list[str]) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for key in {store.slot_key(i, "ledger") for i in imsis}:
        for _, fields in await store.xrange(key):
            if fields["id"].split(":")[0] in imsis:
                out[fields["id"]] = fields
    return out


async def pg_entries(pool: asyncpg.Pool, imsis: list[str]) -> dict[str, asyncpg.Record]:
    async with pool.acquire() as conn:
        rows = await conn.fetch("SELECT * FROM ledger WHERE account_id = ANY($1::text[])", imsis)
    return {r["entry_id"]: r for r in rows}


async def check_ledger_matches_balances(service: ChargingService, imsis: list[str]) -> None:
    rows = await pg_entries(service.pool, imsis)
    for imsi in imsis:
        mine = sorted((r for r in rows.values() if r["account_id"] == imsi), key=lambda r: r["seq"])
        seq = int(await service.store.hget(service.store.key(imsi, "acct"), "seq") or 0)
        assert [r["seq"] for r in mine] == list(range(1, seq + 1))
        assert sum(r["amount"] for r in mine) == (await service.account(imsi)).balance


async def test_writer_moves_entries_exactly_once_and_trims(service: ChargingService,
                                                           redis_store: RedisStore,
                                                           new_account: NewAccount) -> None:
    imsis = [await new_account(balance=100 + i) for i in range(5)]
    for i, imsi in enumerate(imsis):
        await service.adjust(imsi, -i - 1, f"a{i}")
    before = await stream_entries(redis_store, imsis)
    assert len(before) == 10
    writer = LedgerWriter(redis_store, service.pool, block_ms=50)
    assert await writer.drain() == 10
    rows = await pg_entries(service.pool, imsis)
    assert set(rows) == set(before)
    for entry_id, f in before.items():
        r = rows[entry_id]
        assert (r["account_id"], r["seq"], r["kind"], r["amount"], r["balance_after"], r["ref"]) == \
            (f["id"].split(":")[0], int(f["id"].split(":")[1]), f["kind"], int(f["amount"]), int(f["balance"]),
             f["ref"])
    assert await stream_entries(redis_store, imsis) == {}
    # a second writer, or the same entries again, change nothing
    assert await writer.drain() == 0
    await check_ledger_matches_balances(service, imsis)


async def test_writer_task_wakes_on_new_entries(service: ChargingService, redis_store: RedisStore,
                                                new_account: NewAccount) -> None:
    imsi = await new_account()
    await LedgerWriter(redis_store, service.pool).drain()   # the opening top-up: not the task's work
    writer = LedgerWriter(redis_store, service.pool, block_ms=200)
    writer.start()
    try:
        for i in range(20):
            await service.top_up(imsi, 1, f"t{i}")
        for _ in range(500):  # rows land in PostgreSQL before the writer trims the stream: wait for both
            if (len(await pg_entries(service.pool, [imsi])) == 20 and writer.written == 20
                    and await stream_entries(redis_store, [imsi]) == {}):
                break
            await asyncio.sleep(0.02)
        # the running task wrote them (not the drain at stop, which would hide a writer that never wakes)
        assert len(await pg_entries(service.pool, [imsi])) == 20
        assert writer.written == 20 and await stream_entries(redis_store, [imsi]) == {}
    finally:
        await writer.stop(drain=False)
    await check_ledger_matches_balances(service, [imsi])


async def test_postgres_outage_loses_and_duplicates_nothing(service: ChargingService, redis_store: RedisStore,
                                                            new_account: NewAccount,
                                                            pg_database: tuple[str, str]) -> None:
    db = pg_database[0]
    await service.set_tariff(Tariff(7, Unit.OCTETS, 100, 1, 1, "EUR"))
    imsis = [await new_account(balance=10_000) for _ in range(4)]
    writer = LedgerWriter(redis_store, service.pool, block_ms=100, retry_delay=0.05, pg_timeout=1.0)
    writer.start()
    admin = await asyncpg.connect(PG_DSN)
    try:
        await admin.execute(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS false')
        await admin.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1", db)

        async def session(imsi: str, n: int) -> None:
            for k in range(10):
                await service.reserve(imsi, f"s{n}", 7, 1000, now=NOW)
                await service.commit(imsi, f"s{n}", 7, 150 + k, f"s{n}:{k}", now=NOW)

        await asyncio.gather(*(session(imsi, n) for imsi in imsis for n in range(5)))
        for _ in range(1000):  # up to 20 s: the writer notices at its next batch
            if writer.failures:
                break
            await asyncio.sleep(0.02)
        assert writer.failures > 0
        pending = await stream_entries(redis_store, imsis)
        assert len(pending) >= 200   # everything since the outage waits in Redis
    finally:
        await admin.execute(f'ALTER DATABASE "{db}" ALLOW_CONNECTIONS true')
        await admin.close()
    for _ in range(500):
        if not await stream_entries(redis_store, imsis):
            break
        await asyncio.sleep(0.02)
    await writer.stop()
    rows = await pg_entries(service.pool, imsis)
    assert set(pending) <= set(rows)
    assert len(rows) == 4 * (1 + 5 * 10)
    await check_ledger_matches_balances(service, imsis)


async def test_rebuild_restores_balances_and_bundles(service: ChargingService, redis_store: RedisStore,
                                                     new_account: NewAccount) -> None:
    await service.set_tariff(Tariff(8, Unit.OCTETS, 1000, 3, 9, "EUR"))
    code_a, code_b = "ra" + secrets.token_hex(3), "rb" + secrets.token_hex(3)
    await service.create_bundle(BundleDefinition(code_a, "A", BundleKind.DATA, Allowances(data_octets=5000), 1, 10,
                                                 100, "EUR"))
    await service.create_bundle(BundleDefinition(code_b, "B", BundleKind.HYBRID,
                                                 Allowances(3000, 60, 5, 2000), 30, 20, 200, "EUR"))
    a, b = await new_account(balance=2000), await new_account(balance=50)
    await service.purchase(a, code_a, "pa", now=NOW)
    await service.purchase(a, code_b, "pb", now=NOW)
    await service.reserve(a, "s", 8, 7000, now=NOW)
    await service.commit(a, "s", 8, 6500, "s:1", now=NOW)
    await service.reserve(a, "r", 8, 2500, roaming=True, now=NOW)
    await service.commit(a, "r", 8, 2500, "r:1", roaming=True, now=NOW)
    await service.gift(a, b, code_a, "g1", now=NOW)
    await service.expire_bundles(a, now=NOW + 86400)
    await service.adjust(b, -7, "adj")
    before = {i: await service.account(i) for i in (a, b)}
    await LedgerWriter(redis_store, service.pool).drain()
    for i in (a, b):
        await service.redis.wipe(i)
    assert await service.rebuild() >= 2
    after = {i: await service.account(i) for i in (a, b)}
    assert after == before
    # references and numbering survive the rebuild
    assert (await service.top_up(a, 2000, "initial-" + "x")).duplicate is False
    assert (await service.purchase(a, code_a, "pa", now=NOW)).duplicate is True
    assert (await service.adjust(b, -7, "adj")).duplicate is True
    await LedgerWriter(redis_store, service.pool).drain()
    await check_ledger_matches_balances(service, [a, b])


async def test_cluster_layout_keeps_each_script_in_the_subscribers_slot(redis_prefix: str, pg_pool: asyncpg.Pool,
                                                                         new_subscriber) -> None:
    """With cluster=True the ledger stream and indexes of a subscriber hash to the slot of its IMSI, and the writer
    finds entries in whichever of the 16384 streams they are."""
    from ocs.store.redis_client import key_slot

    store = RedisStore(REDIS_URL, redis_prefix, cluster=True)
    await store.start()
    try:
        service = ChargingService(store, pg_pool)
        imsis = [await new_subscriber() for _ in range(3)]
        for imsi in imsis:
            await service.open_account("EUR", imsi)
            await service.top_up(imsi, 42, "c1")
            for name in ("ledger", "rsvidx", "expidx"):
                key = store.slot_key(imsi, name)
                assert key_slot(key.rpartition("{")[2].rstrip("}")) == key_slot(imsi)
        assert len(store.slot_keys("ledger")) == 16384
        assert await LedgerWriter(store, pg_pool).drain() == 3
        rows = await pg_entries(pg_pool, imsis)
        assert sorted((r["account_id"], r["amount"]) for r in rows.values()) == sorted((i, 42) for i in imsis)
        assert await stream_entries(store, imsis) == {}
    finally:
        await store.close()
