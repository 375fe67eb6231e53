"""The AuC service against the real Redis and PostgreSQL, checked by the test-side USIM: vectors are accepted,
SQNs are never reused (block reservations, a loss of Redis, concurrent AIRs), resynchronisation works and a
tampered AUTS is refused."""

from __future__ import annotations

import asyncio
import secrets

import asyncpg
import pytest

from auc import opc as make_opc
from auc import split_sqn
from ocs.apps.s6a import ResyncFailed, UnknownUser
from ocs.sealing import DEMO_KEY, Sealer
from ocs.services.auc import AucService, aad
from ocs.store.redis_client import RedisStore
from tests.support.usim import Accepted, SyncFailure, Usim, usim_kasme, xor

pytestmark = pytest.mark.integration

PLMN = bytes.fromhex("00f110")
SEALER = Sealer(DEMO_KEY)


async def add_subscriber(pool: asyncpg.Pool, *, seq_reserved: int = 0) -> tuple[str, bytes, bytes]:
    imsi = f"00101{secrets.randbelow(10**10):010d}"
    k = secrets.token_bytes(16)
    opc = make_opc(k, secrets.token_bytes(16))
    async with pool.acquire() as conn:
        await conn.execute(
            "INSERT INTO subscribers (imsi, msisdn, k_enc, opc_enc, seq_reserved) VALUES ($1, $2, $3, $4, $5)",
            imsi, "7" + imsi[-10:], SEALER.seal(k, aad("k", imsi)), SEALER.seal(opc, aad("opc", imsi)), seq_reserved)
    return imsi, k, opc


def auc_service(store: RedisStore, pool: asyncpg.Pool, **kw: int) -> AucService:
    return AucService(store, pool, SEALER, **kw)  # type: ignore[arg-type]


async def test_vectors_are_accepted_by_the_usim_and_keys_agree(redis_store, pg_pool):
    imsi, k, opc = await add_subscriber(pg_pool)
    auc = auc_service(redis_store, pg_pool)
    usim = Usim(k, opc)
    v = await auc.vectors(imsi, PLMN, eutran=5)
    assert len(v.eutran) == 5 and len({e.rand for e in v.eutran}) == 5
    assert list(v.sqns) == sorted(v.sqns) and len(set(v.sqns)) == 5
    for e, sqn in zip(v.eutran, v.sqns, strict=True):
        got = usim.authenticate(e.rand, e.autn)
        assert isinstance(got, Accepted) and got.sqn == sqn and got.res == e.xres
        assert usim_kasme(got.ck, got.ik, PLMN, e.autn[:6]) == e.kasme  # TS 33.401 A.2, SQN xor AK = AUTN[0:6]


async def test_utran_and_geran_vectors(redis_store, pg_pool):
    imsi, k, opc = await add_subscriber(pg_pool)
    v = await auc_service(redis_store, pg_pool).vectors(imsi, PLMN, eutran=1, utran=2, geran=1)
    usim = Usim(k, opc)
    assert (len(v.eutran), len(v.utran), len(v.geran)) == (1, 2, 1)
    for u in v.utran:
        got = usim.authenticate(u.rand, u.autn)
        assert isinstance(got, Accepted) and (got.res, got.ck, got.ik) == (u.xres, u.ck, u.ik)
    g = v.geran[0]
    m = usim.m
    assert g.sres == xor(m.f2(g.rand)[:4], m.f2(g.rand)[4:])


async def test_unknown_imsi(redis_store, pg_pool):
    with pytest.raises(UnknownUser):
        await auc_service(redis_store, pg_pool).vectors("001019999999999", PLMN)


async def test_seq_blocks_are_reserved_in_postgres_before_use(redis_store, pg_pool):
    imsi, _, _ = await add_subscriber(pg_pool, seq_reserved=40)
    auc = auc_service(redis_store, pg_pool, seq_block=3)
    issued = []
    for _ in range(10):
        issued += (await auc.vectors(imsi, PLMN, eutran=2)).sqns
    seqs = [split_sqn(s)[0] for s in issued]
    assert seqs == list(range(41, 61))  # continues above the reserved SEQ, consecutive, no reuse
    async with pg_pool.acquire() as conn:
        reserved = await conn.fetchval("SELECT seq_reserved FROM subscribers WHERE imsi = $1", imsi)
    assert reserved >= max(seqs)


async def test_a_loss_of_redis_never_repeats_a_sqn(redis_store, pg_pool):
    imsi, k, opc = await add_subscriber(pg_pool)
    auc = auc_service(redis_store, pg_pool, seq_block=100)
    before = (await auc.vectors(imsi, PLMN, eutran=3)).sqns
    await redis_store.client.delete(redis_store.key(imsi, "auc"))  # Redis lost everything
    fresh = auc_service(redis_store, pg_pool, seq_block=100)  # and the daemon restarted
    after = (await fresh.vectors(imsi, PLMN)).sqns
    assert min(after) > max(before)
    usim = Usim(k, opc)
    v = await fresh.vectors(imsi, PLMN)
    assert isinstance(usim.authenticate(v.eutran[0].rand, v.eutran[0].autn), Accepted)


async def test_concurrent_airs_get_distinct_sqns(redis_store, pg_pool):
    imsi, _, _ = await add_subscriber(pg_pool)
    services = [auc_service(redis_store, pg_pool, seq_block=7) for _ in range(3)]  # three daemons, one Redis
    results = await asyncio.gather(*(services[i % 3].vectors(imsi, PLMN, eutran=2) for i in range(60)))
    sqns = [s for r in results for s in r.sqns]
    assert len(set(sqns)) == len(sqns) == 120


async def test_resync_continues_above_sqn_ms(redis_store, pg_pool):
    imsi, k, opc = await add_subscriber(pg_pool)
    auc = auc_service(redis_store, pg_pool)
    usim = Usim(k, opc)
    usim.sqn_ms = (5000 << 5)  # the USIM has seen SQNs far above what this HSS knows (e.g. another HSS)
    usim.seq_ms[0] = 5000
    v = await auc.vectors(imsi, PLMN)
    failure = usim.authenticate(v.eutran[0].rand, v.eutran[0].autn)
    assert isinstance(failure, SyncFailure)
    v = await auc.vectors(imsi, PLMN, eutran=2, resync_info=v.eutran[0].rand + failure.auts)
    assert split_sqn(v.sqns[0])[0] == 5001
    for e in v.eutran:
        assert isinstance(usim.authenticate(e.rand, e.autn), Accepted)


async def test_tampered_auts_is_refused_and_changes_nothing(redis_store, pg_pool):
    imsi, k, opc = await add_subscriber(pg_pool)
    auc = auc_service(redis_store, pg_pool)
    usim = Usim(k, opc)
    usim.sqn_ms, usim.seq_ms[0] = 900 << 5, 900
    v = await auc.vectors(imsi, PLMN)
    failure = usim.authenticate(v.eutran[0].rand, v.eutran[0].autn)
    assert isinstance(failure, SyncFailure)
    bad = bytearray(failure.auts)
    bad[10] ^= 0x01  # one bit of MAC-S
    with pytest.raises(ResyncFailed):
        await auc.vectors(imsi, PLMN, resync_info=v.eutran[0].rand + bytes(bad))
    after = await auc.vectors(imsi, PLMN)
    assert split_sqn(after.sqns[0])[0] == split_sqn(v.sqns[0])[0] + 1  # the counter did not jump


async def reserved_in_postgres(pool: asyncpg.Pool, imsi: str) -> int:
    async with pool.acquire() as conn:
        return int(await conn.fetchval("SELECT seq_reserved FROM subscribers WHERE imsi = $1", imsi))


async def test_500_concurrent_airs_on_a_cold_cache_make_one_reservation(redis_store, pg_pool):
    """Issue 15: every AIR in flight for one IMSI on a cold cache used to reserve a block of its own (500
    commits, 500 blocks of SQN space burnt). Single-flight: at most 2 reservations, every vector fresh."""
    imsi, k, opc = await add_subscriber(pg_pool)
    auc = auc_service(redis_store, pg_pool, seq_block=1000)
    results = await asyncio.gather(*(auc.vectors(imsi, PLMN) for _ in range(500)))
    assert await reserved_in_postgres(pg_pool, imsi) <= 2 * 1000  # each reservation raises it by >= one block
    vectors = sorted(((r.sqns[0], r.eutran[0]) for r in results), key=lambda v: v[0])
    assert len({sqn for sqn, _ in vectors}) == len({e.rand for _, e in vectors}) == 500
    usim = Usim(k, opc)
    for sqn, e in vectors:  # in SQN order, as a USIM that sees them all would: each one fresh (Annex C.2.2)
        got = usim.authenticate(e.rand, e.autn)
        assert isinstance(got, Accepted) and got.sqn == sqn and got.res == e.xres


async def test_concurrent_airs_for_an_unknown_imsi_share_one_lookup(redis_store, pg_pool):
    auc = auc_service(redis_store, pg_pool)
    results = await asyncio.gather(*(auc.vectors("001019999999998", PLMN) for _ in range(50)),
                                   return_exceptions=True)
    assert all(isinstance(r, UnknownUser) for r in results)
    assert not auc._reserving  # nothing left behind for the next caller


async def test_a_cancelled_caller_does_not_cancel_the_reservation_others_wait_for(redis_store, pg_pool):
    imsi, _, _ = await add_subscriber(pg_pool)
    auc = auc_service(redis_store, pg_pool)
    first = asyncio.ensure_future(auc.vectors(imsi, PLMN))
    await asyncio.sleep(0)
    others = [asyncio.ensure_future(auc.vectors(imsi, PLMN)) for _ in range(20)]
    while not auc._reserving and not first.done():  # the first caller's reservation is in flight
        await asyncio.sleep(0)
    first.cancel()
    results = await asyncio.gather(*others)
    assert len({r.sqns[0] for r in results}) == 20
    assert await reserved_in_postgres(pg_pool, imsi) <= 2 * 1000
