"""The upgrade to accounts by id, on a database and a Redis made the way the previous version made them.

The database gets migrations 001-003 only and rows as the previous version wrote them (accounts keyed by IMSI,
ledger rows `<imsi>:<seq>` with an `imsi` column); Redis gets the previous layout (`{<imsi>}:acct`, `refs`, a
ledger entry still waiting in the stream, no identity index). Then migration 004 and the documented Redis step
(`ocsd ledger rebuild-redis`: drain the stream, rebuild every account and the IMSI/MSISDN -> account index)
run, and balances, bundles, history and references must have survived.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator

import asyncpg
import pytest
import pytest_asyncio

from ocs.services.charging import ChargingService
from ocs.store.ledger import LedgerWriter
from ocs.store.migrations import migrate
from ocs.store.redis_client import RedisStore
from tests.integration.conftest import PG_DSN, REDIS_URL, drop_database, dsn_for

pytestmark = pytest.mark.asyncio

A, B = "001010000000101", "001010000000102"      # two subscribers of the previous version
NOW_MS = 1_700_000_000_000
BUNDLE = {"id": 2, "code": "d1g", "priority": 10, "expires_at": 4_000_000_000, "d": 1000, "v": 0, "s": 0, "r": 0}


@pytest_asyncio.fixture
async def old_database() -> AsyncIterator[str]:
    name = "ocsd_mig_" + secrets.token_hex(6)
    admin = await asyncpg.connect(PG_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    await admin.close()
    try:
        yield dsn_for(name)
    finally:
        await drop_database(name)


async def make_previous_version(conn: asyncpg.Connection, store: RedisStore) -> None:
    applied = await migrate(conn, upto=3)
    assert [m.version for m in applied] == [1, 2, 3]
    for imsi, msisdn in ((A, "15550000101"), (B, "15550000102")):
        await conn.execute("INSERT INTO subscribers (imsi, msisdn, k_enc, opc_enc) VALUES ($1, $2, $3, $4)",
                           imsi, msisdn, b"\x00" * 44, b"\x00" * 44)
        await conn.execute("INSERT INTO accounts (imsi, currency) VALUES ($1, 'EUR')", imsi)
    rows = [  # A: top-up 5000, bought d1g for 1500, used 200 octets of it; B: top-up 70
        (f"{A}:1", A, 1, "topup", 5000, 5000, "receipt-1", "{}"),
        (f"{A}:2", A, 2, "purchase", -1500, 3500, "buy-1", json.dumps({"bundle": BUNDLE, "name": "1 GB"})),
        (f"{A}:3", A, 3, "usage", 0, 3500, "s1:10:1",
         json.dumps({"rg": 10, "units": 200, "balance_units": 0, "unpaid": 0, "bundles": [[2, "d", -200]]})),
        (f"{B}:1", B, 1, "topup", 70, 70, "receipt-2", "{}"),
    ]
    await conn.executemany("INSERT INTO ledger (entry_id, imsi, seq, kind, amount, balance_after, ref, detail, "
                           "created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, now())", rows)
    c = store.client
    # Redis of the previous version: hashes tagged by IMSI, one more top-up of B (seq 2) not yet in PostgreSQL
    await c.hset(store.key(A, "acct"), mapping={"cur": "EUR", "bal": 3500, "held": 0, "seq": 3,
                                                "B2": "d1g|10|4000000000|800|0|0|0|0|0|0|0"})
    await c.hset(store.key(A, "refs"), mapping={"receipt-1": "1|topup|5000", "buy-1": "2|purchase|-1500"})
    await c.hset(store.key(B, "acct"), mapping={"cur": "EUR", "bal": 100, "held": 0, "seq": 2})
    await c.hset(store.key(B, "refs"), mapping={"receipt-2": "1|topup|70", "receipt-3": "2|topup|30"})
    await c.xadd(store.slot_key(B, "ledger"), {"id": f"{B}:2", "kind": "topup", "amount": "30", "balance": "100",
                                               "ref": "receipt-3", "ts": str(NOW_MS), "detail": "{}"})


async def test_previous_version_data_migrates_with_its_history(old_database: str) -> None:
    store = RedisStore(REDIS_URL, "ocsmig-" + secrets.token_hex(6))
    await store.start()
    conn = await asyncpg.connect(old_database)
    pool = await asyncpg.create_pool(old_database, min_size=1, max_size=2)
    try:
        await make_previous_version(conn, store)
        assert [m.version for m in await migrate(conn, upto=4)] == [4]  # later migrations are not about accounts
        service = ChargingService(store, pool)
        with pytest.raises(Exception, match="unknown_subscriber"):
            await service.account_of_imsi(A)        # no identity index before the Redis step
        # the Redis step of the upgrade, as `ocsd ledger rebuild-redis` does it
        assert await LedgerWriter(store, pool).drain() == 1
        assert await service.rebuild() == 2

        a, b = await service.account_of_imsi(A), await service.account_of_msisdn("15550000102")
        assert (a, b) == (A, B)   # migrated accounts keep their old key as their id
        view = await service.account(a)
        assert (view.balance, view.currency, [(x.code, x.remaining.data_octets) for x in view.bundles]) == \
            (3500, "EUR", [("d1g", 800)])
        assert (await service.account(b)).balance == 100
        # history kept: same entry ids, amounts and numbering, now keyed by account id
        rows = await conn.fetch("SELECT entry_id, account_id, seq, amount FROM ledger ORDER BY entry_id")
        assert [tuple(r) for r in rows] == [(f"{A}:1", A, 1, 5000), (f"{A}:2", A, 2, -1500), (f"{A}:3", A, 3, 0),
                                            (f"{B}:1", B, 1, 70), (f"{B}:2", B, 2, 30)]
        assert await conn.fetchval("SELECT account_id FROM subscribers WHERE imsi = $1", A) == A
        # references survived (a retried top-up credits nothing) and numbering continues
        assert (await service.top_up(b, 30, "receipt-3")).duplicate
        assert (await service.top_up(b, 5, "receipt-4")).entry_id == f"{B}:3"
        # the migrated account takes a second SIM; a new account gets a generated id
        await conn.execute("INSERT INTO subscribers (imsi, msisdn, k_enc, opc_enc) VALUES ($1, $2, $3, $4)",
                           "001010000000103", "15550000103", b"\x00" * 44, b"\x00" * 44)
        await service.link_sim(a, "001010000000103", "15550000103")
        assert await service.account_of_imsi("001010000000103") == A
        assert [s.imsi for s in await service.sims(a)] == [A, "001010000000103"]
        fresh = await service.open_account("EUR")
        assert fresh not in (A, B) and (await service.account(fresh)).balance == 0
    finally:
        await pool.close()
        await conn.close()
        keys = [k async for k in store.client.scan_iter(match=store.prefix + ":*", count=1000)]
        if keys:
            await store.client.delete(*keys)
        await store.close()
