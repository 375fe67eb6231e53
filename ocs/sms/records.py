"""SMS message records into PostgreSQL (issue 18 point 4): the write-behind of the Redis records.

sms_charge.lua and sms_result.lua append a snapshot of the record to the stream `smsrec` (one per slot in the
cluster layout) each time it changes, with an increasing `rev`. `SmsRecordWriter.write_once` upserts the
newest snapshot of each message (a row is replaced only by a higher rev: a crash between the upsert and the
trim, or snapshots read out of order, never move a record back), then trims the streams. PostgreSQL down: the
snapshots wait in Redis; the hot path never waits for it. Reads fall back to PostgreSQL once the Redis record
expired ([sms] record_ttl).
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import asyncpg

from ocs.store.redis_client import RedisStore

UPSERT = """
INSERT INTO sms_messages (message_id, account_id, destination, parts, price, sender_id, dispatch_id, plan, submit,
                          submit_status, delivery, dlr_status, refunded, charged_at, submitted_at, delivered_at, rev)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::int[], $5::bigint[], $6::text[], $7::text[],
                     $8::text[], $9::text[], $10::text[], $11::text[], $12::text[], $13::bool[], $14::timestamptz[],
                     $15::timestamptz[], $16::timestamptz[], $17::int[])
ON CONFLICT (message_id) DO UPDATE SET submit = EXCLUDED.submit, submit_status = EXCLUDED.submit_status,
    delivery = EXCLUDED.delivery, dlr_status = EXCLUDED.dlr_status, refunded = EXCLUDED.refunded,
    submitted_at = EXCLUDED.submitted_at, delivered_at = EXCLUDED.delivered_at, rev = EXCLUDED.rev
WHERE sms_messages.rev < EXCLUDED.rev
"""
COLUMNS = ("message_id", "account", "dest", "parts", "price", "sender", "dispatch", "plan", "submit",
           "submit_status", "delivery", "dlr_status", "refunded", "charged_at", "submitted_at", "delivered_at", "rev")


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


def _time(ms: str | None) -> datetime | None:
    return datetime.fromtimestamp(int(ms) / 1000, UTC) if ms else None


def _row(f: dict[str, str]) -> tuple[Any, ...]:
    return (f["mid"], f["account"], f["dest"], int(f["parts"]), int(f["price"]), f.get("sender") or None,
            f.get("dispatch") or None, f["plan"], f["submit"], f.get("submit_status") or None,
            f.get("delivery") or None, f.get("dlr_status") or None, f.get("refunded") == "1",
            _time(f["charged_at"]), _time(f.get("submitted_at")), _time(f.get("delivered_at")), int(f["rev"]))


def _next_id(stream_id: str) -> str:
    ms, _, seq = stream_id.partition("-")
    return f"{ms}-{int(seq) + 1}"


class SmsRecordWriter:
    def __init__(self, store: RedisStore, pool: asyncpg.Pool, *, count: int = 1000, pg_timeout: float = 10.0) -> None:
        self.store, self.pool, self.count, self.pg_timeout = store, pool, count, pg_timeout

    async def write_once(self) -> int:
        """Move what the streams hold into PostgreSQL; returns snapshots consumed (0: nothing waiting)."""
        p = self.store.pipeline
        keys = self.store.slot_keys("smsrec")
        found = await asyncio.gather(*(p.call("XRANGE", k, "-", "+", "COUNT", self.count) for k in keys))
        newest: dict[str, tuple[Any, ...]] = {}
        last: list[tuple[str, str]] = []
        consumed = 0
        for key, entries in zip(keys, found, strict=True):
            for _, raw in entries or ():
                f = {_s(raw[i]): _s(raw[i + 1]) for i in range(0, len(raw), 2)}
                row = _row(f)
                if row[0] not in newest or newest[row[0]][-1] < row[-1]:
                    newest[row[0]] = row
                consumed += 1
            if entries:
                last.append((key, _s(entries[-1][0])))
        if not last:
            return 0
        cols = [list(c) for c in zip(*newest.values(), strict=True)]
        async with self.pool.acquire(timeout=self.pg_timeout) as conn:
            await conn.execute(UPSERT, *cols, timeout=self.pg_timeout)
        await asyncio.gather(*(p.call("XTRIM", key, "MINID", _next_id(sid)) for key, sid in last))
        return consumed

    async def drain(self) -> int:
        total = 0
        while n := await self.write_once():
            total += n
        return total


async def stored_record(pool: asyncpg.Pool, message_id: str) -> dict[str, Any] | None:
    """The PostgreSQL copy of a record, in the shape of the Redis one (times in ms)."""
    async with pool.acquire() as conn:
        r = await conn.fetchrow("SELECT * FROM sms_messages WHERE message_id = $1", message_id)
    if r is None:
        return None

    def ms(t: datetime | None) -> int | None:
        return int(t.timestamp() * 1000) if t is not None else None

    return {"message_id": r["message_id"], "account": r["account_id"], "dest": r["destination"],
            "parts": r["parts"], "price": r["price"], "sender": r["sender_id"], "dispatch": r["dispatch_id"],
            "plan": r["plan"], "submit": r["submit"], "submit_status": r["submit_status"],
            "delivery": r["delivery"], "dlr_status": r["dlr_status"], "refunded": r["refunded"],
            "charged_at": ms(r["charged_at"]), "submitted_at": ms(r["submitted_at"]),
            "delivered_at": ms(r["delivered_at"])}


__all__ = ["COLUMNS", "SmsRecordWriter", "stored_record"]
