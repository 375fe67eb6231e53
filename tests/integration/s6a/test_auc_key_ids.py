"""Issue 14 point 6: the AuC's Redis cache of sealed keys names the key file it was made with. A cache made
under another key file is dropped and reloaded from PostgreSQL (instead of failing every AIR), values sealed
by the previous version (no key id) still work, and values in PostgreSQL under another key are refused
without being cached. SQNs never repeat across a dropped cache."""

from __future__ import annotations

import secrets

import asyncpg
import pytest

from auc import opc as make_opc
from auc import split_sqn
from ocs.sealing import DEMO_KEY, KeyMismatch, Sealer
from ocs.services.auc import AucService, aad
from ocs.store.redis_client import RedisStore
from tests.support.usim import Accepted, SyncFailure, Usim
from tests.unit.test_sealing import legacy_seal

pytestmark = pytest.mark.integration

PLMN = bytes.fromhex("00f110")
OLD, NEW = Sealer(DEMO_KEY), Sealer(bytes(range(1, 33)))


async def add_subscriber(pool: asyncpg.Pool, seal: object) -> tuple[str, bytes, bytes]:
    imsi = f"00101{secrets.randbelow(10**10):010d}"
    k = secrets.token_bytes(16)
    opc = make_opc(k, secrets.token_bytes(16))
    async with pool.acquire() as conn:
        await conn.execute("INSERT INTO subscribers (imsi, msisdn, k_enc, opc_enc) VALUES ($1, $2, $3, $4)",
                           imsi, "7" + imsi[-10:], seal(k, aad("k", imsi)), seal(opc, aad("opc", imsi)))  # type: ignore[operator]
    return imsi, k, opc


async def reseal(pool: asyncpg.Pool, imsi: str, k: bytes, opc: bytes, sealer: Sealer) -> None:
    """The operator moved to a new key file and re-sealed the subscriber in PostgreSQL."""
    async with pool.acquire() as conn:
        await conn.execute("UPDATE subscribers SET k_enc = $2, opc_enc = $3 WHERE imsi = $1", imsi,
                           sealer.seal(k, aad("k", imsi)), sealer.seal(opc, aad("opc", imsi)))


async def test_a_cache_made_under_another_key_file_is_dropped_and_reloaded(redis_store: RedisStore,
                                                                            pg_pool: asyncpg.Pool) -> None:
    imsi, k, opc = await add_subscriber(pg_pool, OLD.seal)
    before = (await AucService(redis_store, pg_pool, OLD).vectors(imsi, PLMN, eutran=2)).sqns
    await reseal(pg_pool, imsi, k, opc, NEW)
    cached = await redis_store.hgetall(redis_store.key(imsi, "auc"))
    assert cached["kid"] == OLD.key_id.hex()   # Redis still holds the values sealed under the old key
    auc = AucService(redis_store, pg_pool, NEW)  # the daemon restarted with the new key file
    v = await auc.vectors(imsi, PLMN, eutran=2)
    assert min(v.sqns) > max(before)         # the dropped cache restarted above seq_reserved
    usim = Usim(k, opc)
    for e in v.eutran:
        assert isinstance(usim.authenticate(e.rand, e.autn), Accepted)
    assert (await redis_store.hgetall(redis_store.key(imsi, "auc")))["kid"] == NEW.key_id.hex()
    again = await auc.vectors(imsi, PLMN)   # and the reloaded cache is used as it is
    assert split_sqn(again.sqns[0])[0] == split_sqn(v.sqns[-1])[0] + 1


async def test_a_resync_against_a_cache_of_another_key_file(redis_store: RedisStore, pg_pool: asyncpg.Pool) -> None:
    imsi, k, opc = await add_subscriber(pg_pool, OLD.seal)
    await AucService(redis_store, pg_pool, OLD).vectors(imsi, PLMN)
    await reseal(pg_pool, imsi, k, opc, NEW)
    usim = Usim(k, opc)
    usim.sqn_ms = 9000 << 5
    usim.seq_ms[0] = 9000
    auc = AucService(redis_store, pg_pool, NEW)
    v = await auc.vectors(imsi, PLMN)
    failure = usim.authenticate(v.eutran[0].rand, v.eutran[0].autn)
    assert isinstance(failure, SyncFailure)
    # another process with the old key file cached the record again; the resync (which reads the keys
    # before any SEQ is handed out) must still reload it
    await redis_store.client.hset(redis_store.key(imsi, "auc"), mapping={
        "k": OLD.seal(k, aad("k", imsi)).hex(), "opc": OLD.seal(opc, aad("opc", imsi)).hex(),
        "kid": OLD.key_id.hex()})
    fresh = AucService(redis_store, pg_pool, NEW)
    v = await fresh.vectors(imsi, PLMN, resync_info=v.eutran[0].rand + failure.auts)
    assert split_sqn(v.sqns[0])[0] == 9001
    assert isinstance(usim.authenticate(v.eutran[0].rand, v.eutran[0].autn), Accepted)


async def test_values_sealed_by_the_previous_version_still_open(redis_store: RedisStore,
                                                                 pg_pool: asyncpg.Pool) -> None:
    imsi, k, opc = await add_subscriber(pg_pool, lambda p, a: legacy_seal(DEMO_KEY, p, a))
    v = await AucService(redis_store, pg_pool, OLD).vectors(imsi, PLMN)
    assert isinstance(Usim(k, opc).authenticate(v.eutran[0].rand, v.eutran[0].autn), Accepted)
    assert (await redis_store.hgetall(redis_store.key(imsi, "auc")))["kid"] == OLD.key_id.hex()


async def test_a_record_cached_by_the_previous_version_is_reloaded(redis_store: RedisStore,
                                                                    pg_pool: asyncpg.Pool) -> None:
    imsi, k, opc = await add_subscriber(pg_pool, OLD.seal)
    before = (await AucService(redis_store, pg_pool, OLD).vectors(imsi, PLMN)).sqns
    await redis_store.client.hdel(redis_store.key(imsi, "auc"), "kid")   # as the previous version wrote it
    after = (await AucService(redis_store, pg_pool, OLD).vectors(imsi, PLMN)).sqns
    assert min(after) > max(before)


async def test_postgres_values_under_another_key_are_refused_and_not_cached(redis_store: RedisStore,
                                                                             pg_pool: asyncpg.Pool) -> None:
    imsi, _, _ = await add_subscriber(pg_pool, OLD.seal)
    with pytest.raises(KeyMismatch):
        await AucService(redis_store, pg_pool, NEW).vectors(imsi, PLMN)
    assert await redis_store.hgetall(redis_store.key(imsi, "auc")) == {}
