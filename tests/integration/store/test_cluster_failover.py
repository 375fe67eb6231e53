"""A Redis Cluster failover under money operations (issue 19): a primary is killed (kill -9), its replica is
promoted; with `[redis] wait_replicas = 1` every acknowledged top-up survives, and meanwhile calls fail with
`ConnectionError` (the guard's transient answer) and succeed when retried with the same reference."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from ocs.services.charging import ChargingService
from ocs.store.guard import TRANSIENT, TRANSIENT_REPLIES
from ocs.store.redis_client import ReplyError
from ocs.store.redis_cluster import ClusterStore
from tests.support.redis_cluster import LocalCluster

pytestmark = pytest.mark.asyncio


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A cluster of its own: this module kills one of its primaries."""
    if not LocalCluster.available():
        pytest.skip("redis-server / redis-cli not installed")
    c = LocalCluster(Path(tmp_path_factory.mktemp("failover")))
    c.start()
    try:
        yield c
    finally:
        c.stop()


async def test_primary_killed_replica_promoted_no_acknowledged_top_up_lost(cluster: LocalCluster,
                                                                          pg_pool: asyncpg.Pool) -> None:
    store = ClusterStore(cluster.url, "ocsfo-" + secrets.token_hex(4), wait_replicas=1, wait_timeout=200)
    await store.start()
    service = ChargingService(store, pg_pool)
    await service.load()
    try:
        account = await service.open_account("EUR")
        victim = cluster.primary_of(store.key(account, "acct"))
        acknowledged: list[str] = []
        transient = 0
        errors: set[str] = set()
        n = 0
        killed_at = None
        deadline = time.monotonic() + 40
        while time.monotonic() < deadline:
            ref = f"t{n}"
            try:
                async with asyncio.timeout(2):
                    await service.top_up(account, 100, ref)
            except (*TRANSIENT, ReplyError) as e:
                assert not isinstance(e, ReplyError) or str(e).startswith(TRANSIENT_REPLIES), e
                errors.add(f"{type(e).__name__}: {e}"[:150])
                transient += 1  # unknown outcome: the same reference is sent again (idempotent)
                await asyncio.sleep(0.1)
                continue
            acknowledged.append(ref)
            n += 1
            if n == 20:
                cluster.kill(victim)
                killed_at = time.monotonic()
            if killed_at is not None and n >= 30:
                break
        assert n >= 30, f"only {n} top-ups acknowledged ({transient} transient failures: {errors})"
        assert transient > 0  # the failover was seen, as transient failures
        # (after it the new primary has no replica left: WAIT 1 times out after 200 ms, logged, answer stands)
        assert cluster.primary_of(store.key(account, "acct")) != victim  # a replica took over the slot
        view = await service.account(account)
        assert view.balance == 100 * len(acknowledged)  # nothing acknowledged was lost, nothing doubled
        seq = int(await store.hget(store.key(account, "acct"), "seq") or 0)
        assert seq == len(acknowledged)  # one ledger entry per top-up
    finally:
        await store.close()
