"""Blocked accounts and barred SIMs on Gy against real Redis and PostgreSQL (issue 9): the status lives in
PostgreSQL and in the account's Redis hash, survives the rebuild of Redis, and the one-script CCR refuses a CCR-I
(nothing changed) and answers a CCR-U with its usage charged and nothing granted; the RAA of a RAR and an ASA
2001 are recorded on the session, and a terminating session is reaped after the grace."""

from __future__ import annotations

import pytest

from ocs.charging.errors import UnknownAccount
from ocs.charging.model import Tariff, Unit
from ocs.services.account_status import InvalidReason
from ocs.services.gy_notify import notify_key
from ocs.services.subscriber_admin import Changes, update_subscriber
from ocs.store.gy_redis import GyRedis
from ocs.store.ledger import LedgerWriter
from ocs.subscribers.errors import Blocked

pytestmark = pytest.mark.integration

GRANT = 100_000
NOW = 1_700_000_000_000


def item(used: int, wanted: int = GRANT) -> dict[str, object]:
    return {"rg": 10, "used": used, "wanted": wanted, "dim": "d", "n": 1000, "price": 1, "cur": "EUR", "release": 0}


@pytest.fixture
async def gy(service, redis_store):
    await service.set_tariff(Tariff(10, Unit.OCTETS, 1000, 1, 5, "EUR"))
    return GyRedis(redis_store, session_lifetime=600, answer_ttl=60)


async def notifications(store) -> list[dict[str, str]]:
    return [fields for _, fields in await store.xrange(notify_key(store))]


async def test_block_refuses_ccr_i_charges_ccr_u_and_unblock_reauthorizes(service, redis_store, pg_pool, gy,
                                                                          new_account):
    account = await new_account(balance=1000)
    imsi = (await service.sims(account))[0].imsi
    await gy.ccr(account, "pgw;1", 1, 0, "pgw", "test", [item(0)], NOW, imsi)
    out = await service.block(account, "fraud check")
    assert (out["status"], out["reason"], out["changed"]) == ("blocked", "fraud check", True)
    assert (await service.block(account, "fraud check"))["changed"] is False  # idempotent
    assert (await service.account_status(account))["status"] == "blocked"
    with pytest.raises(Blocked):
        await gy.ccr(account, "pgw;2", 1, 0, "pgw", "test", [item(0)], NOW, imsi)
    assert (await service.account(account)).held == 100  # the refused CCR-I holds nothing
    # CCR-U: what was used under the earlier grant is charged, nothing is granted, everything held goes back
    reply = await gy.ccr(account, "pgw;1", 2, 1, "pgw", "test", [item(30_000)], NOW + 1000)
    assert reply["denied"] == 1 and reply["items"][0]["charged"] == 30 and reply["items"][0]["granted"] == 0
    view = await service.account(account)
    assert (view.balance, view.held) == (970, 0)
    assert (await gy.sessions(account))["pgw;1"]["final"] is True  # a RAR will re-open it
    # the rebuild of Redis from PostgreSQL keeps the block
    await LedgerWriter(redis_store, service.pool).drain()  # the ledger reaches PostgreSQL first
    await service.rebuild(account)
    with pytest.raises(Blocked):
        await gy.ccr(account, "pgw;3", 1, 0, "pgw", "test", [item(0)], NOW, imsi)
    assert (await service.unblock(account))["changed"] is True
    assert {"kind": "reauth", "account": account} in await notifications(redis_store)
    again = await gy.ccr(account, "pgw;1", 2, 2, "pgw", "test", [item(0)], NOW + 2000)
    assert again["denied"] == 0 and again["items"][0]["granted"] == GRANT
    async with pg_pool.acquire() as conn:
        actions = [r["action"] for r in await conn.fetch("SELECT action FROM audit WHERE target = $1 ORDER BY id",
                                                          account)]
    assert actions == ["account.block", "account.unblock"]


async def test_block_refuses_unknown_accounts_and_bad_reasons(service):
    with pytest.raises(UnknownAccount):
        await service.block("nobody", "x")
    with pytest.raises(InvalidReason):
        await service.block("nobody", "x" * 201)


async def test_barred_sim_is_refused_by_imsi_and_msisdn_and_survives_the_rebuild(service, redis_store, pg_pool, gy,
                                                                                  new_account):
    from ocs.sealing import DEMO_KEY, Sealer

    account = await new_account(balance=1000)
    sim = (await service.sims(account))[0]
    await update_subscriber(pg_pool, Sealer(DEMO_KEY), service, sim.imsi, Changes(status="blocked"))
    for imsi, msisdn in ((sim.imsi, ""), ("", sim.msisdn)):
        with pytest.raises(Blocked):
            await gy.ccr(account, "pgw;b", 1, 0, "pgw", "test", [item(0)], NOW, imsi, msisdn)
    await LedgerWriter(redis_store, service.pool).drain()  # the ledger reaches PostgreSQL first
    await service.rebuild(account)
    with pytest.raises(Blocked):
        await gy.ccr(account, "pgw;b", 1, 0, "pgw", "test", [item(0)], NOW, sim.imsi)
    await update_subscriber(pg_pool, Sealer(DEMO_KEY), service, sim.imsi, Changes(status="active"))
    assert (await gy.ccr(account, "pgw;b", 1, 0, "pgw", "test", [item(0)], NOW, sim.imsi))["denied"] == 0
    assert (await service.account_status(account))["status"] == "active"  # the account itself was never blocked


async def test_raa_recorded_and_terminating_session_reaped_after_the_grace(service, redis_store, gy, new_account):
    account = await new_account(balance=1000)
    await gy.ccr(account, "pgw;r", 1, 0, "pgw", "test", [item(0)], NOW)
    assert await gy.mark(account, "pgw;r", rar=(2001, NOW + 5, "pgw.test"))
    s = (await gy.sessions(account))["pgw;r"]
    assert s["last_rar"] == {"result_code": 2001, "at": "2023-11-14T22:13:20.005Z", "at_ms": NOW + 5,
                             "peer": "pgw.test"}
    assert s["state"] == "open"
    # a CCR-U keeps what was recorded; after an ASA 2001 the session waits 30 s for its CCR-T, then is reaped
    await gy.ccr(account, "pgw;r", 2, 1, "pgw", "test", [item(1000)], NOW + 10)
    assert await gy.mark(account, "pgw;r", terminating_until=NOW + 30_000)
    await gy.ccr(account, "pgw;r", 2, 2, "pgw", "test", [item(1000)], NOW + 20)  # does not extend the deadline
    s = (await gy.sessions(account))["pgw;r"]
    assert (s["state"], s["last_rar"]["result_code"], s["request_number"]) == ("terminating", 2001, 2)
    assert await gy.reap(NOW + 29_000) == 0
    assert await gy.reap(NOW + 31_000) == 1
    view = await service.account(account)
    assert (view.balance, view.held) == (998, 0)
    records = await redis_store.xrange(redis_store.slot_key(account, "cdr"))
    assert [(r["session"], r["cause"]) for _, r in records] == [("pgw;r", "aborted")]
    assert not await gy.mark(account, "pgw;r", rar=(2001, NOW, "pgw.test"))  # gone
