"""The ledger lag /readyz reads: the age of the oldest entry still waiting in the ledger streams."""

from __future__ import annotations

import time

import pytest

from ocs.admin.health import Health
from ocs.backends import Backends
from ocs.store.redis_client import RedisStore


async def test_lag_is_the_age_of_the_oldest_waiting_entry(redis_store: RedisStore, pg_pool):
    health = Health(None, Backends(redis_store, pg_pool, keys=None), ledger_lag_limit=60)  # type: ignore[arg-type]
    assert await health.ledger_lag() == 0.0
    old_ms = int(time.time() * 1000) - 120_000
    key = redis_store.slot_keys("ledger")[0]
    await redis_store.client.xadd(key, {"id": "a:1"}, id=f"{old_ms}-0")
    await redis_store.client.xadd(key, {"id": "a:2"}, id="*")
    lag = await health.ledger_lag()
    assert 119 < lag < 130
    ready = await health.readiness()
    assert ready["ready"] is False and ready["checks"]["ledger"]["ok"] is False
    lag_seen = ready["checks"]["ledger"]["lag_seconds"]
    assert ready["problems"] == [f"ledger: lag {lag_seen:g} s is over the limit of 60 s"]
    await redis_store.client.xtrim(key, minid=f"{old_ms + 1}-0", approximate=False)
    assert (await health.readiness())["ready"] is True


async def test_writer_lag_grows_while_postgresql_refuses_and_is_0_once_written(redis_store: RedisStore, pg_pool):
    """ocsd_ledger_lag_seconds reads LedgerWriter.lag: the age of the oldest entry read and not yet confirmed."""
    import asyncpg

    from ocs.store.ledger import LedgerWriter
    from tests.integration.conftest import dsn_for

    key = redis_store.slot_keys("ledger")[0]
    stamp = int(time.time() * 1000) - 30_000
    await redis_store.client.xadd(key, {"id": "lagacct:1", "kind": "topup", "amount": "5", "balance": "5",
                                        "ref": "r", "detail": "{}", "ts": str(stamp)})
    closed = await asyncpg.create_pool(dsn_for("postgres"), min_size=1, max_size=1)
    await closed.close()
    writer = LedgerWriter(redis_store, closed, pg_timeout=2)
    assert writer.lag() == 0.0
    with pytest.raises(asyncpg.InterfaceError):  # the closed pool refuses, as a PostgreSQL outage does
        await writer.write_once(None)
    assert 29 < writer.lag() < 40
    writer.pool = pg_pool
    assert await writer.write_once(None) == 1
    assert writer.lag() == 0.0
    await writer.stop(drain=False)
