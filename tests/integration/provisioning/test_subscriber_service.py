"""SubscriberService against the real PostgreSQL: a subscriber never exists without its account."""

from __future__ import annotations

import asyncpg
import pytest
import redis.exceptions

from ocs.provisioning import new_subscriber
from ocs.sealing import DEMO_KEY, Sealer
from ocs.services.charging import ChargingService
from ocs.services.subscribers import SubscriberService
from ocs.store.redis_client import RedisStore
from tests.support.daemon_process import free_port

pytestmark = pytest.mark.asyncio

K, OPC = "465b5ce8b199b49faa5f0a2ee238a6bc", "cd63cb71954a9f4e48a5994e37a02baf"


async def test_add_undoes_the_row_when_the_account_cannot_be_opened(pg_pool: asyncpg.Pool,
                                                                    redis_store: RedisStore) -> None:
    dead = RedisStore(f"redis://127.0.0.1:{free_port()}/0", "nowhere")   # nothing listens there
    broken = SubscriberService(pg_pool, Sealer(DEMO_KEY), ChargingService(dead, pg_pool), currency="EUR")
    s = new_subscriber(imsi_="001019999999999", msisdn_="15559999999", k=K, opc=OPC)
    with pytest.raises((OSError, redis.exceptions.ConnectionError)):   # the account is opened by a script
        await broken.add(s)
    await dead.close()
    async with pg_pool.acquire() as conn:
        assert await conn.fetchval("SELECT count(*) FROM subscribers WHERE imsi = $1", s.imsi) == 0
        assert await conn.fetchval("SELECT count(*) FROM accounts") == 0   # nor a half-opened account
    working = SubscriberService(pg_pool, Sealer(DEMO_KEY), ChargingService(redis_store, pg_pool), currency="EUR")
    account = await working.add(s)   # the same add, once Redis is back
    assert await working.charging.account_of_imsi(s.imsi) == account
    assert (await working.charging.account(account)).balance == 0
