"""The one-script Gy CCR against a real Redis: 50 concurrent sessions of one account never spend or hold more
than it has (DESIGN §4); the reaper closes a silent session, releases what it held and records its CDR."""

from __future__ import annotations

import asyncio

import pytest

from ocs.charging.model import Tariff, Unit
from ocs.store.gy_redis import GyRedis, session_lookup_key

pytestmark = pytest.mark.integration

GRANT = 100_000


def item(used: int, wanted: int = GRANT) -> dict[str, object]:
    # 1 cent per 1000 octets, data bundles may serve it
    return {"rg": 10, "used": used, "wanted": wanted, "dim": "d", "n": 1000, "price": 1, "cur": "EUR", "release": 0}


async def test_fifty_concurrent_sessions_never_spend_more_than_the_account_holds(service, redis_store, new_account):
    await service.set_tariff(Tariff(10, Unit.OCTETS, 1000, 1, 5, "EUR"))
    account = await new_account(balance=1234)
    gy = GyRedis(redis_store, session_lifetime=600, answer_ttl=60)
    sessions = [f"pgw;{i}" for i in range(50)]
    now = 1_700_000_000_000
    first = await asyncio.gather(*(gy.ccr(account, s, 1, 0, "pgw", "test", [item(0)], now) for s in sessions))
    granted = [r["items"][0]["granted"] for r in first]
    assert sum(g // 1000 for g in granted) <= 1234  # what was granted can be paid
    assert sum(1 for g in granted if g > 0) == 13  # 12 full grants and one of 34 cents
    view = await service.account(account)
    assert view.held == 1234 and view.balance == 1234
    # every session reports twice what it was granted (over-use): charged only down to zero
    second = await asyncio.gather(*(gy.ccr(account, s, 2, 1, "pgw", "test", [item(2 * g)], now + 1)
                                    for s, g in zip(sessions, granted, strict=True)))
    charged = sum(r["items"][0]["charged"] for r in second)
    unpaid = sum(r["items"][0]["unpaid"] for r in second)
    view = await service.account(account)
    assert charged == 1234 and view.balance == 0 and view.held == 0
    assert unpaid == 1234  # the over-use past zero is recorded, never a negative balance
    assert all(r["items"][0]["granted"] == 0 for r in second)


async def test_reaper_closes_a_silent_session_and_records_it(service, redis_store, new_account):
    await service.set_tariff(Tariff(10, Unit.OCTETS, 1000, 1, 5, "EUR"))
    account = await new_account(balance=1000)
    gy = GyRedis(redis_store, session_lifetime=600, answer_ttl=60)
    now = 1_700_000_000_000
    await gy.ccr(account, "pgw;silent", 1, 0, "pgw", "test", [item(0)], now, "001010000000001", "4917000001")
    await gy.ccr(account, "pgw;alive", 1, 0, "pgw", "test", [item(0)], now + 500_000)
    assert (await service.account(account)).held == 200
    assert await gy.reap(now + 599_000) == 0  # not yet past Validity-Time + grace
    assert await gy.reap(now + 601_000) == 1
    assert (await service.account(account)).held == 100 and (await service.account(account)).balance == 1000
    assert list(await gy.sessions(account)) == ["pgw;alive"]
    assert await redis_store.pipeline.call("GET", session_lookup_key(redis_store, "pgw;silent")) is None
    records = await redis_store.xrange(redis_store.slot_key(account, "cdr"))
    assert [(r["session"], r["cause"], r["imsi"], r["msisdn"]) for _, r in records] == [
        ("pgw;silent", "reaped", "001010000000001", "4917000001")]


async def test_cdrs_written_once_and_flushed_at_stop(service, redis_store, pg_pool, new_account):
    from ocs.services.housekeeping import Housekeeping
    from ocs.store.cdrs import CdrWriter, cdrs

    await service.set_tariff(Tariff(10, Unit.OCTETS, 1000, 1, 5, "EUR"))
    account = await new_account(balance=1000)
    gy = GyRedis(redis_store, session_lifetime=600, answer_ttl=60)
    now = 1_700_000_000_000
    await gy.ccr(account, "pgw;1", 1, 0, "pgw", "test", [item(0)], now, "001010000000009", "")
    await gy.ccr(account, "pgw;1", 3, 1, "pgw", "test", [item(2500, 0)], now + 1000)
    writer = CdrWriter(redis_store, pg_pool)
    keeper = Housekeeping(service, 3600, 3600, 3600, flushes=[("gy-cdr", writer.drain)])
    keeper.start()
    await keeper.stop()  # the flush at stop writes what waits in Redis
    written = await cdrs(pg_pool, account=account)
    assert [(c["session"], c["cause"], c["usage"]) for c in written] == [
        ("pgw;1", "final", [{"rg": 10, "used": 2500, "charged": 3, "from_bundles": 0}])]
    # written once: the same record again (a crash between the insert and the trim) adds nothing
    await redis_store.pipeline.call("XADD", redis_store.slot_key(account, "cdr"), "*", "session", "pgw;1",
                                    "account", account, "imsi", "", "msisdn", "", "peer", "pgw", "start", str(now),
                                    "stop", str(now), "cause", "final", "usage", "[]")
    assert await writer.drain() == 1
    assert len(await cdrs(pg_pool, account=account)) == 1
