"""ocsd's store on a real 3-primary Redis Cluster (tests/support/redis_cluster.py): every script's keys in one
slot, MOVED followed, the ledger writer draining every node's per-slot streams into PostgreSQL exactly once."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import pytest_asyncio
from redis.crc import key_slot

from ocs.charging import Allowances, BundleDefinition, BundleKind, Tariff, Unit
from ocs.services.charging import ChargingService
from ocs.store.ledger import LedgerWriter
from ocs.store.redis_cluster import ClusterStore, slot_of

pytestmark = pytest.mark.asyncio

NOW = 1_700_000_000.0


class SlotCheckingStore(ClusterStore):
    """Fails any script call whose keys hash to more than one slot (CLUSTER KEYSLOT's rule, redis-py's
    key_slot), and records which scripts ran."""

    def __init__(self, url: str, prefix: str) -> None:
        super().__init__(url, prefix)
        self.ran: dict[str, int] = {}

    async def evalsha(self, name: str, keys: list[str], args: list[Any]) -> Any:
        slots = {key_slot(k.encode()) for k in keys}
        assert len(slots) <= 1, f"script {name} touches slots {slots}: {keys}"
        assert {slot_of(k) for k in keys} == slots
        self.ran[name] = self.ran.get(name, 0) + 1
        return await super().evalsha(name, keys, args)


@pytest_asyncio.fixture
async def cluster_service(redis_cluster: Any, pg_pool: asyncpg.Pool) -> AsyncIterator[ChargingService]:
    store = SlotCheckingStore(redis_cluster.url, "ocsclu-" + secrets.token_hex(4))
    await store.start()
    service = ChargingService(store, pg_pool)
    await service.load()
    try:
        yield service
    finally:
        await store.close()


async def new_account(service: ChargingService, balance: int) -> str:
    account = await service.open_account("EUR")
    imsi = f"00101{secrets.randbelow(10**10):010d}"
    async with service.pool.acquire() as conn:
        await conn.execute("INSERT INTO subscribers (imsi, msisdn, k_enc, opc_enc) VALUES ($1, $2, $3, $4)",
                           imsi, "7" + imsi[-10:], b"\x00" * 44, b"\x00" * 44)
    await service.link_sim(account, imsi, "7" + imsi[-10:])
    if balance:
        await service.top_up(account, balance, "initial")
    return account


async def test_every_script_runs_in_one_slot_and_the_ledger_drains_every_node(cluster_service: ChargingService,
                                                                              redis_cluster: Any) -> None:
    service = cluster_service
    store = service.store
    assert isinstance(store, ClusterStore) and len(store.cluster_pipeline.primaries()) == 3
    await service.set_tariff(Tariff(10, Unit.OCTETS, 1000, 1, 5, "EUR"))
    code = "c" + secrets.token_hex(3)
    await service.create_bundle(BundleDefinition(code, "1 MB", BundleKind.DATA, Allowances(data_octets=10**6), 30, 50,
                                                 100, "EUR"))
    accounts = [await new_account(service, 1000) for _ in range(24)]
    nodes = {redis_cluster.primary_of(store.key(a, "acct")) for a in accounts}
    assert len(nodes) == 3  # 24 accounts spread over the three primaries
    sender, recipient = accounts[0], accounts[1]
    await service.purchase(sender, code, "buy-1", now=NOW)
    await service.gift(sender, recipient, code, "gift-1", now=NOW)
    for i, a in enumerate(accounts[2:8]):
        await service.reserve(a, f"s{i}", 10, 50_000, now=NOW)
        await service.update(a, f"s{i}", 10, 20_000, 50_000, f"s{i}:1", now=NOW)
        await service.commit(a, f"s{i}", 10, 10_000, f"s{i}:2", now=NOW)
        again = await service.commit(a, f"s{i}", 10, 10_000, f"s{i}:2", now=NOW)
        assert again.duplicate
    await service.reserve(accounts[9], "old", 10, 10_000, now=NOW)
    assert await service.reap_stale(60, now=NOW + 3600) == 10_000
    await service.expire_bundles(now=NOW + 40 * 86400)
    assert {"open", "money", "activate", "reserve", "update", "commit", "reap", "expire"} <= set(store.ran)

    writer = LedgerWriter(store, service.pool)
    written = await writer.drain()
    async with service.pool.acquire() as conn:
        rows = await conn.fetch("SELECT account_id, amount FROM ledger WHERE account_id = ANY($1::text[])", accounts)
    seqs = [int(await store.hget(store.key(a, "acct"), "seq") or 0) for a in accounts]
    assert written >= len(rows) == sum(seqs)  # every entry of every account, from every node's streams
    for a in accounts:
        assert sum(r["amount"] for r in rows if r["account_id"] == a) == (await service.account(a)).balance
    assert await writer.drain() == 0  # trimmed: nothing is written twice
    await writer.stop(drain=False)


async def test_moved_is_followed_and_the_map_corrected(cluster_service: ChargingService) -> None:
    store = cluster_service.store
    assert isinstance(store, ClusterStore)
    p = store.cluster_pipeline
    key = store.key("moved-" + secrets.token_hex(3), "acct")
    slot = slot_of(key)
    right = p._slots[slot]
    wrong = next(a for a in p.primaries() if a != right)
    p._slots[slot] = wrong
    before = p.redirects
    await p.call("HSET", key, "bal", 5)
    assert p.redirects == before + 1 and p._slots[slot] == right
    assert await p.call("HGET", key, "bal") == "5"
    await p.call("DEL", key)
