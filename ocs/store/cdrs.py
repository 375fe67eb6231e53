"""Gy charging data records: the write-behind from the Redis `cdr` stream(s) into PostgreSQL (exactly once by
record id, like the ledger writer), and the reads of `ocsd cdr show`.

The scripts that close a session (gy_ccr.lua on CCR-T, gy_close.lua for the reaper and an abort) append one
entry each: session, account, imsi, msisdn, peer, start, stop (ms), cause, usage (JSON). `CdrWriter.write_once`
inserts what the streams hold (ON CONFLICT DO NOTHING: a crash between the insert and the trim writes nothing
twice), then trims them. With PostgreSQL down, the records wait in Redis; the hot path never waits for it.
"""

from __future__ import annotations

import asyncio
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from ocs.store.redis_client import RedisStore
from ocs.store.redis_cluster import ClusterStore, read_streams

INSERT = """
INSERT INTO gy_cdrs (record_id, account_id, imsi, msisdn, peer, started_at, stopped_at, cause, usage)
SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[],
                     $7::timestamptz[], $8::text[], $9::jsonb[])
ON CONFLICT (record_id) DO NOTHING
"""


def _time(ms: str) -> datetime:
    return datetime.fromtimestamp(int(ms) / 1000, UTC)


def _next_id(stream_id: str) -> str:
    ms, _, seq = stream_id.partition("-")
    return f"{ms}-{int(seq) + 1}"


@dataclass
class CdrWriter:
    store: RedisStore
    pool: asyncpg.Pool
    count: int = 500
    pg_timeout: float = 10.0

    async def write_once(self) -> int:
        """Move what the streams hold into PostgreSQL; returns records written (0: nothing waiting)."""
        p = self.store.pipeline
        keys = self.store.slot_keys("cdr")
        if isinstance(self.store, ClusterStore) and not self.store.cluster_pipeline.standalone:
            # one script per primary over its slots' streams (16384 XRANGEs would cost ~0.2 s of CPU a pass)
            streams = dict(await read_streams(self.store, keys, self.count))
            keys = list(streams)
            found = [streams[k] for k in keys]
        else:
            found = await asyncio.gather(*(p.call("XRANGE", k, "-", "+", "COUNT", self.count) for k in keys))
        cols: list[list[Any]] = [[] for _ in range(9)]
        last: list[tuple[str, str]] = []
        for key, entries in zip(keys, found, strict=True):
            for _, raw in entries or ():
                f = {_s(raw[i]): _s(raw[i + 1]) for i in range(0, len(raw), 2)}
                for col, value in zip(cols, (f["session"], f["account"], f["imsi"], f["msisdn"], f["peer"],
                                             _time(f["start"]), _time(f["stop"]), f["cause"], f["usage"]),
                                      strict=True):
                    col.append(value)
            if entries:
                last.append((key, _s(entries[-1][0])))
        if not last:
            return 0
        async with self.pool.acquire(timeout=self.pg_timeout) as conn:
            await conn.execute(INSERT, *cols, timeout=self.pg_timeout)
        await asyncio.gather(*(p.call("XTRIM", key, "MINID", _next_id(sid)) for key, sid in last))
        return len(cols[0])

    async def drain(self) -> int:
        total = 0
        while n := await self.write_once():
            total += n
        return total


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


async def cdrs(pool: asyncpg.Pool, *, account: str | None = None, session: str | None = None,
               limit: int = 100) -> list[dict[str, Any]]:
    """Records written to PostgreSQL, newest first, for an account or a session id (or all)."""
    async with pool.acquire() as conn:
        rows = await conn.fetch(
            """SELECT * FROM gy_cdrs WHERE ($1::text IS NULL OR account_id = $1)
               AND ($2::text IS NULL OR record_id = $2) ORDER BY started_at DESC LIMIT $3""",
            account, session, limit)
    return [{"session": r["record_id"], "account": r["account_id"], "imsi": r["imsi"], "msisdn": r["msisdn"],
             "peer": r["peer"], "start": r["started_at"].isoformat(), "stop": r["stopped_at"].isoformat(),
             "cause": r["cause"], "usage": json.loads(r["usage"])} for r in rows]


__all__ = ["CdrWriter", "cdrs"]
