"""The ledger: Redis streams -> PostgreSQL, exactly once; and the rebuild of Redis from PostgreSQL.

Writer (theory of operation): the scripts append entries to one stream per cluster slot
(`<p>:ledger:{<slot tag>}`). The writer blocks on XREAD over all slot streams from id 0 (no polling loop: the
read returns as soon as any stream holds an entry, or after `block_ms` to look at the stop flag), inserts what
it read into `ledger` in one statement (`ON CONFLICT DO NOTHING`: the entry id is the primary key), and only
after PostgreSQL committed trims each stream up to the last id inserted (XTRIM MINID). What remains in the
streams is therefore exactly what PostgreSQL has not confirmed, so the writer keeps no state: after a crash, a
PostgreSQL outage or with several writers at once, entries are inserted again and ignored by the key —
nothing is lost and nothing is doubled. While PostgreSQL is down the writer retries every `retry_delay`
seconds; entries wait in Redis (AOF) meanwhile.

On a Redis Cluster no XREAD spans slots: each pass is one script call per primary over the streams of the
slots it serves (`ocs.store.redis_cluster.read_streams`), every `cluster_poll` seconds while they are empty.

Rebuild: balances = sum(amount) of the account's ledger; bundles = replay of the entries' `detail`
(activation creates a bundle with the entry's seq as id, usage entries add their deltas, expiry removes);
idempotency references and pending gifts are restored from the same rows; open reservations are not
(sessions do not survive the loss of Redis). Run it after draining the writer, or after losing Redis.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import asyncpg
import structlog

from ocs.charging.errors import UnknownAccount
from ocs.charging.model import ActiveBundle, Allowances, LedgerEntry
from ocs.store.account_status import flags_in_postgres
from ocs.store.charging_redis import ChargingRedis
from ocs.store.redis_client import RedisStore
from ocs.store.redis_cluster import ClusterStore, read_streams

log = structlog.get_logger("ocs.ledger")

INSERT = """
INSERT INTO ledger (entry_id, account_id, seq, kind, amount, balance_after, ref, detail, created_at)
SELECT e, i, s, k, a, b, r, d::jsonb, to_timestamp(t / 1000.0)
FROM unnest($1::text[], $2::text[], $3::bigint[], $4::text[], $5::bigint[], $6::bigint[], $7::text[],
            $8::text[], $9::bigint[]) AS u(e, i, s, k, a, b, r, d, t)
ON CONFLICT DO NOTHING"""

PG_ERRORS = (OSError, ConnectionError, asyncio.TimeoutError, asyncpg.PostgresError, asyncpg.InterfaceError)
# asyncpg raises these when the server refuses connections (e.g. ALLOW_CONNECTIONS false) or goes away
GIFT_REFUND_SUFFIX = ":refund"  # ref of a gift_refund: <gift id>:refund
MONEY_KINDS = frozenset({"topup", "adjust", "refund", "purchase", "gift_out", "gift_in", "gift_refund"})


def entry_from_fields(fields: list[str]) -> dict[str, str]:
    return dict(zip(fields[::2], fields[1::2], strict=True))


def split_entry_id(entry_id: str) -> tuple[str, int]:
    """`<account>:<seq>` -> (account, seq); account ids hold no ':' (ocs.charging.model.ACCOUNT_RE)."""
    account, _, seq = entry_id.rpartition(":")
    return account, int(seq)


def ledger_entry(f: dict[str, str]) -> LedgerEntry:
    account, seq = split_entry_id(f["id"])
    return LedgerEntry(f["id"], account, seq, f["kind"], int(f["amount"]), int(f["balance"]), f["ref"],
                       int(f["ts"]), json.loads(f["detail"]))


def ledger_entry_from_row(row: asyncpg.Record) -> LedgerEntry:
    return LedgerEntry(row["entry_id"], row["account_id"], row["seq"], row["kind"], row["amount"], row["balance_after"],
                       row["ref"], int(row["created_at"].timestamp() * 1000), json.loads(row["detail"]))


@dataclass
class LedgerWriter:
    store: RedisStore
    pool: asyncpg.Pool
    count: int = 200           # entries per stream per read
    block_ms: int = 1000       # longest wait on XREAD before the stop flag is looked at
    retry_delay: float = 1.0   # seconds between attempts while PostgreSQL is unavailable
    pg_timeout: float = 10.0   # a PostgreSQL that neither answers nor refuses counts as down after this
    cluster_poll: float = 0.5  # seconds between passes over a Redis Cluster's streams when they were empty
    on_written: Callable[[int], None] = field(default=lambda n: None)   # metrics hooks
    on_failure: Callable[[], None] = field(default=lambda: None)

    def __post_init__(self) -> None:
        self._redis = self.store.connection()   # own connection: a blocking XREAD must not stall scripts
        self._keys = self.store.slot_keys("ledger")
        self._ids = ["0-0"] * len(self._keys)
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.written = 0       # entries inserted (conflicts included) since start
        self.failures = 0
        self.oldest_ms: int | None = None  # stamp of the oldest entry read and not yet confirmed by PostgreSQL

    def lag(self) -> float:
        """Seconds the oldest entry read and not yet in PostgreSQL has waited (0 when none waits)."""
        return max(0.0, time.time() - self.oldest_ms / 1000) if self.oldest_ms is not None else 0.0

    def start(self) -> asyncio.Task[None]:
        self._stop.clear()
        self._task = asyncio.get_running_loop().create_task(self.run(), name="ledger-writer")
        return self._task

    async def stop(self, drain: bool = True) -> None:
        """Stop the loop (within `block_ms`); with `drain`, write what is left if PostgreSQL is reachable."""
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
        if drain:
            try:
                await self.drain()
            except PG_ERRORS as exc:
                log.warning("ledger-drain-failed", error=str(exc))
        await self._redis.close()

    async def run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.write_once(self.block_ms)
            except PG_ERRORS as exc:
                self.failures += 1
                self.on_failure()
                log.warning("ledger-write-failed", error=str(exc), failures=self.failures)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), self.retry_delay)

    async def drain(self) -> int:
        """Write everything the streams hold now; returns the number of entries written."""
        total = 0
        while n := await self.write_once(None):
            total += n
        return total

    async def read(self, block_ms: int | None) -> list[tuple[str, list[tuple[str, list[str]]]]]:
        if isinstance(self.store, ClusterStore) and not self.store.cluster_pipeline.standalone:
            # no XREAD across slots on a Cluster: one script per primary reads its slots' streams; with
            # nothing to write, wait `cluster_poll` seconds (or the stop flag) before the next pass
            found = await read_streams(self.store, self._keys, self.count)
            if not found and block_ms:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), min(block_ms / 1000, self.cluster_poll))
            return found
        args: list[Any] = ["XREAD", "COUNT", self.count]
        if block_ms is not None:
            args += ["BLOCK", block_ms]
        reply = await self._redis.call(*args, "STREAMS", *self._keys, *self._ids)
        return reply or []

    async def write_once(self, block_ms: int | None) -> int:
        streams = await self.read(block_ms)
        if not streams:
            return 0
        cols: list[list[Any]] = [[] for _ in range(9)]
        last: list[tuple[str, str]] = []
        for stream, entries in streams:
            for _, fields in entries:
                f = entry_from_fields(fields)
                account, seq = split_entry_id(f["id"])
                for col, value in zip(cols, (f["id"], account, seq, f["kind"], int(f["amount"]),
                                             int(f["balance"]), f["ref"], f["detail"], int(f["ts"])), strict=True):
                    col.append(value)
            if entries:
                last.append((stream, entries[-1][0]))
        if not cols[0]:
            return 0
        oldest = min(cols[8])
        self.oldest_ms = oldest if self.oldest_ms is None else min(self.oldest_ms, oldest)
        async with self.pool.acquire(timeout=self.pg_timeout) as conn:
            await conn.execute(INSERT, *cols, timeout=self.pg_timeout)
        # PostgreSQL has them: trim each stream through the last id written
        await asyncio.gather(*(self._redis.call("XTRIM", stream, "MINID", _next_id(sid)) for stream, sid in last))
        n = len(cols[0])
        self.oldest_ms = None  # the streams are in time order: what is left is newer, and read next
        self.written += n
        self.on_written(n)
        return n


def _next_id(stream_id: str) -> str:
    ms, _, seq = stream_id.partition("-")
    return f"{ms}-{int(seq) + 1}"


async def pending_entries(store: RedisStore, account: str) -> list[LedgerEntry]:
    """Entries of `account` still in Redis (not yet confirmed by PostgreSQL)."""
    reply = await store.xrange(store.slot_key(account, "ledger"))
    out = []
    for _, fields in reply:
        if split_entry_id(fields["id"])[0] == account:
            out.append(ledger_entry(fields))
    return out


@dataclass(frozen=True, slots=True)
class ReplayedAccount:
    account: str
    currency: str
    balance: int
    seq: int
    bundles: list[ActiveBundle]
    refs: dict[str, str]
    pending_gifts: dict[str, str]


def replay(account: str, currency: str, entries: Iterable[LedgerEntry], gifts_done: set[str]) -> ReplayedAccount:
    """The state a subscriber's ledger entries (in seq order) add up to. `gifts_done`: gift ids whose
    recipient half (gift_in) or refund is recorded."""
    balance = 0
    seq = 0
    bundles: dict[int, dict[str, Any]] = {}
    refs: dict[str, str] = {}
    pending: dict[str, str] = {}
    for e in entries:
        balance += e.amount
        seq = max(seq, e.seq)
        d = e.detail
        if "bundle" in d:
            b = d["bundle"]
            assert isinstance(b, dict)
            bundles[int(b["id"])] = dict(b)
        for item in d.get("bundles", ()):  # type: ignore[attr-defined]
            bid, dim, delta = item
            if int(bid) in bundles:
                bundles[int(bid)][dim] += int(delta)
        for item in d.get("expired", ()):  # type: ignore[attr-defined]
            bundles.pop(int(item["id"]), None)
        if e.kind in MONEY_KINDS and e.ref:
            refs[e.ref] = f"{e.seq}|{e.kind}|{e.amount}"
        if e.kind == "gift_out" and e.ref not in gifts_done:
            pending[e.ref] = json.dumps(d, separators=(",", ":"), sort_keys=True)
    active = [ActiveBundle(bid, str(b["code"]), int(b["priority"]), int(b["expires_at"]),
                           Allowances(int(b["d"]), int(b["v"]), int(b["s"]), int(b["r"])),
                           rating_groups=tuple(int(x) for x in str(b.get("rgs", "")).split(",") if x))
              for bid, b in sorted(bundles.items())]
    return ReplayedAccount(account, currency, balance, seq, active, refs, pending)


async def replay_from_postgres(conn: asyncpg.Connection, account: str) -> ReplayedAccount:
    currency = await conn.fetchval("SELECT currency FROM accounts WHERE account_id = $1", account)
    if currency is None:
        raise UnknownAccount(account)
    rows = await conn.fetch("SELECT * FROM ledger WHERE account_id = $1 ORDER BY seq", account)
    gift_refs = [r["ref"] for r in rows if r["kind"] == "gift_out"]
    done: set[str] = {r["ref"].removesuffix(GIFT_REFUND_SUFFIX) for r in rows if r["kind"] == "gift_refund"}
    if gift_refs:
        done |= {r["ref"] for r in await conn.fetch(
            "SELECT ref FROM ledger WHERE kind = 'gift_in' AND ref = ANY($1::text[])", gift_refs)}
    return replay(account, currency, (ledger_entry_from_row(r) for r in rows), done)


async def rebuild(pool: asyncpg.Pool, charging: ChargingRedis, account: str) -> ReplayedAccount:
    """Restore one account's balance, bundles, references and pending gifts in Redis from PostgreSQL, and the
    identity index of the SIMs that point at it."""
    async with pool.acquire() as conn:
        state = await replay_from_postgres(conn, account)
        sims = await conn.fetch("SELECT imsi, msisdn FROM subscribers WHERE account_id = $1", account)
        flags = await flags_in_postgres(conn, account)  # blocked account, barred SIMs (migration 015)
    await charging.restore(account, state.currency, state.balance, state.seq, state.bundles, state.refs,
                           state.pending_gifts, flags=flags)
    for sim in sims:
        await charging.link(account, sim["imsi"], sim["msisdn"])
    log.info("rebuilt", account=account, balance=state.balance, bundles=len(state.bundles), seq=state.seq)
    return state


async def rebuild_all(pool: asyncpg.Pool, charging: ChargingRedis) -> int:
    async with pool.acquire() as conn:
        accounts = [r["account_id"] for r in await conn.fetch("SELECT account_id FROM accounts ORDER BY account_id")]
    for account in accounts:
        await rebuild(pool, charging, account)
    return len(accounts)
