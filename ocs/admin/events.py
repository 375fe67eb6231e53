"""GET /api/v1/events: Server-Sent Events from the ledger (issue 16 point 5; the SSE format of the WHATWG HTML
standard §9.2 "Server-sent events").

An event is sent only for a change that happened: the source is the `ledger` table in PostgreSQL (what the
ledger writer confirmed), in the order of its `event_id` (migration 010). Each ledger row is one event, `id`
its event id, `event` its main type, `data` JSON with every type it carries:
`balance.changed` (any money moved), `bundle.activated` (purchase, gift received), `bundle.expired`. A client
that reconnects with `Last-Event-ID` gets every later event: no gap, no repeat. Waking is by LISTEN/NOTIFY
(a trigger notifies `ocsd_ledger` per insert statement), not by polling; a comment line every HEARTBEAT
seconds keeps proxies from closing an idle stream.

Ids come from a sequence, so a transaction that took a lower id can commit after one with a higher id. A hole
in the ids is therefore waited for up to SETTLE seconds before the stream moves past it (holes that never
fill — a rolled-back insert, `ON CONFLICT DO NOTHING` — are skipped after that wait).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import asyncpg
import structlog
from fastapi import FastAPI, Header, Query, Request
from fastapi.responses import StreamingResponse

from ocs.admin.auth import Reader

log = structlog.get_logger("ocs.admin")

HEARTBEAT = 15.0
SETTLE = 2.0
BATCH = 500
CHANNEL = "ocsd_ledger"
TYPES = ("balance.changed", "bundle.activated", "bundle.expired")


def event_types(kind: str, amount: int) -> list[str]:
    types = ["balance.changed"] if amount else []
    if kind in ("purchase", "gift_in", "voucher"):
        types.append("bundle.activated")
    elif kind in ("expire", "expired"):
        types.append("bundle.expired")
    return types


class LedgerHub:
    """One LISTEN connection for every stream: each notification wakes all waiting streams."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._conn: asyncpg.Connection | None = None
        self._changed = asyncio.Event()
        self._lock = asyncio.Lock()

    def _notified(self, *_args: object) -> None:
        self._changed.set()
        self._changed = asyncio.Event()

    async def waiter(self) -> asyncio.Event:
        """An event set at the next notification (take it before reading, then wait on it)."""
        async with self._lock:
            if self._conn is None or self._conn.is_closed():
                self._conn = await self.pool.acquire()
                await self._conn.add_listener(CHANNEL, self._notified)
        return self._changed

    async def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(Exception):
                await self._conn.remove_listener(CHANNEL, self._notified)
            await self.pool.release(self._conn)
            self._conn = None

    async def read(self, after: int) -> list[asyncpg.Record]:
        """The next rows after `after`, every account (holes are judged on the global order)."""
        return list(await self.pool.fetch(
            "SELECT event_id, entry_id, account_id, kind, amount, balance_after, ref, created_at, "
            "extract(epoch FROM clock_timestamp() - written_at)::float8 AS age FROM ledger "
            "WHERE event_id > $1 ORDER BY event_id LIMIT $2", after, BATCH))

    async def latest(self) -> int:
        return int(await self.pool.fetchval("SELECT coalesce(max(event_id), 0) FROM ledger"))


def _format(row: asyncpg.Record, types: list[str]) -> bytes:
    data = {"types": types, "account": row["account_id"], "entry_id": row["entry_id"], "kind": row["kind"],
            "amount": row["amount"], "balance": row["balance_after"], "ref": row["ref"],
            "at": row["created_at"].isoformat()}
    return (f"id: {row['event_id']}\nevent: {types[0]}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n"
            ).encode()


async def stream(hub: LedgerHub, after: int, account: str | None, wanted: frozenset[str],
                 disconnected: Callable[[], Any]) -> AsyncIterator[bytes]:
    yield b"retry: 2000\n\n"
    while True:
        changed = await hub.waiter()
        rows = await hub.read(after)
        waiting = False
        for row in rows:
            if row["event_id"] != after + 1 and row["age"] < SETTLE:
                waiting = True  # a hole: a lower id may still commit (see the module's note)
                break
            after = row["event_id"]
            types = event_types(row["kind"], row["amount"])
            if types and (account is None or row["account_id"] == account) and (
                    not wanted or wanted.intersection(types)):
                yield _format(row, types)
        if len(rows) == BATCH and not waiting:
            continue
        try:
            await asyncio.wait_for(changed.wait(), SETTLE / 4 if waiting else HEARTBEAT)
        except TimeoutError:
            if await disconnected():
                return
            if not waiting:
                yield b": keep-alive\n\n"


def routes(pool: asyncpg.Pool) -> Callable[[FastAPI], None]:
    hub = LedgerHub(pool)

    def add(app: FastAPI) -> None:
        app.state.closers.append(hub.close)  # the LISTEN connection goes back to the pool at shutdown

        @app.get("/api/v1/events", tags=["events"], response_class=StreamingResponse,
                 responses={200: {"content": {"text/event-stream": {"schema": {"type": "string"}}},
                                  "description": "Server-Sent Events"}})
        async def events(request: Request, _who: Reader,
                         account: Annotated[str | None, Query(max_length=64)] = None,
                         type: Annotated[list[str] | None, Query()] = None,
                         last_event_id: Annotated[str | None, Header(alias="Last-Event-ID", max_length=20)] = None,
                         ) -> StreamingResponse:
            """Live ledger events (balance changed, bundle activated/expired), filtered by account and type;
            send Last-Event-ID to resume after a dropped connection."""
            wanted = frozenset(t for t in (type or []) if t in TYPES)
            after = int(last_event_id) if last_event_id and last_event_id.isdigit() else await hub.latest()
            return StreamingResponse(stream(hub, after, account, wanted, request.is_disconnected),
                                     media_type="text/event-stream",
                                     headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    return add


__all__ = ["LedgerHub", "event_types", "routes", "stream"]
