"""The enforcer against the real Redis and PostgreSQL: a session the router lost (no accounting for
`stale_after`) is ended by the reaper without asking the router; a Disconnect the router NAKs (no such
session) ends the session here too."""

from __future__ import annotations

import time

import asyncpg
import pytest

from ocs.services.charging import ChargingService
from ocs.services.hotspot import HotspotService
from ocs.services.hotspot_enforce import Enforcer
from ocs.store.redis_client import RedisStore
from ocs.transport.radius import DynAuthClient
from radius.clients import ClientTable, RadiusClient
from radius.dictionary import load_dictionary
from radius.hotspot import HotspotPackage
from tests.support.hotspot_daemon import SECRET, RouterListener, free_udp_port

pytestmark = [pytest.mark.asyncio, pytest.mark.integration]


async def setup(store: RedisStore, pool: asyncpg.Pool, port: int) -> tuple[HotspotService, Enforcer, str, str]:
    hs = HotspotService(store, pool)
    package = "p" + str(port)  # the database is the module's: a package per test
    await hs.create_package(HotspotPackage(package, "p", 3600, None, "1M/1M", 24))
    code = (await hs.generate_vouchers(ChargingService(store, pool), package, 1, length=8, currency="USD"))[0]
    account = await hs.account_of_user(code)
    dynauth = DynAuthClient(load_dictionary(), 0.2, 0)
    enforcer = Enforcer(hs, pool, ClientTable([RadiusClient("127.0.0.1", "r1", SECRET.encode(), port)]), dynauth,
                        stale_after=300)
    return hs, enforcer, code, account


def start(code: str, sid: str, now: int) -> dict[str, object]:
    return {"sid": sid, "status": "start", "inp": 0, "outp": 0, "time": 0, "now": now, "client": "r1",
            "user": code, "mac": "AA:00:00:00:00:01", "ip": "10.5.50.9", "nas_ip": "127.0.0.1",
            "src": "127.0.0.1", "cause": "", "stale": 300}


async def test_a_stale_session_is_ended_by_the_reaper_without_the_router(redis_store, pg_pool):
    port = free_udp_port()
    router = RouterListener(port)
    hs, enforcer, code, account = await setup(redis_store, pg_pool, port)
    try:
        await hs.accounting(account, start(code, "stale-1", 1000))
        assert await enforcer.reap(now=1200) == 0  # not due: within stale_after of its last accounting
        assert [s.session_id for s in await hs.redis.sessions(account)] == ["stale-1"]
        assert await enforcer.reap(now=1301) == 1
        assert await hs.redis.sessions(account) == []
        assert router.received == []  # nothing asked of the router
        assert await hs.write_closed_sessions() == 1
        async with pg_pool.acquire() as conn:
            cause = await conn.fetchval("SELECT terminate_cause FROM hotspot_sessions WHERE acct_session_id = $1",
                                        "stale-1")
        assert cause == "Lost-Service"
    finally:
        enforcer.dynauth.close()
        router.close()


async def test_a_disconnect_the_router_naks_ends_the_session_here(redis_store, pg_pool):
    port = free_udp_port()
    router = RouterListener(port, nak=True)
    hs, enforcer, code, account = await setup(redis_store, pg_pool, port)
    try:
        await hs.accounting(account, start(code, "nak-1", int(time.time())))
        assert await enforcer.disconnect("nak-1") == "nak"
        assert await hs.redis.sessions(account) == []
        assert router.received and router.received[0][0] == 40
    finally:
        enforcer.dynauth.close()
        router.close()
