"""GET /api/v1/events: Server-Sent Events from the ledger (issue 16 point 5; the SSE format of the WHATWG HTML
standard §9.2 "Server-sent events").

An event is sent only for a change that happened: the sources are the `ledger` table in PostgreSQL (what the
ledger writer confirmed) and the `admin_events` table (migration 016), in the order of their shared
`event_id` (migrations 010, 016). Each ledger row is one event, `id` its event id, `event` its main type,
`data` JSON with every type it carries: `balance.changed` (any money moved), `bundle.activated` (purchase,
gift received), `bundle.expired`. The rows of `admin_events` are made by triggers in the transaction that
writes behind what they report: `bundle.used_up` (a usage row emptied a bundle), `session.started` and
`session.ended` (a Gy CDR or a hotspot session record landed: both arrive when the record is written, within
seconds of the session's end; the start event carries the start time in `at`), and `payment.confirmed`,
which the payments module emits with `emit_event` (or SQL `ocsd_emit_event`) in the transaction that
confirms the payment. A client
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
TYPES = ("balance.changed", "bundle.activated", "bundle.expired", "bundle.used_up", "session.started",
         "session.ended", "payment.confirmed")

EVENTS_SQL = (
    "SELECT * FROM ("
    "(SELECT event_id, entry_id, account_id, kind, amount, balance_after, ref, created_at, NULL::text AS type, "
    "NULL::jsonb AS data, extract(epoch FROM clock_timestamp() - written_at)::float8 AS age FROM ledger "
    "WHERE event_id > $1 ORDER BY event_id LIMIT $2) UNION ALL "
    "(SELECT event_id, NULL, account_id, NULL, NULL, NULL, NULL, created_at, type, data, "
    "extract(epoch FROM clock_timestamp() - written_at)::float8 FROM admin_events "
    "WHERE event_id > $1 ORDER BY event_id LIMIT $2)) AS e ORDER BY event_id LIMIT $2")


async def emit_event(conn: asyncpg.Connection | asyncpg.Pool, type: str, account: str | None,
                     data: dict[str, Any]) -> int:
    """Record a live event (e.g. `payment.confirmed`) for GET /api/v1/events; call it with the connection of
    the transaction that makes the change, so the event exists exactly when the change does. Returns its id.

        async with pool.acquire() as conn, conn.transaction():
            ...  # confirm the payment, credit the account
            await emit_event(conn, "payment.confirmed", account, {"payment": pid, "amount": 1500,
                                                                  "currency": "KES", "provider": "mpesa"})
    """
    return int(await conn.fetchval("SELECT ocsd_emit_event($1, $2, $3::jsonb)", type, account,
                                   json.dumps(data, separators=(",", ":"))))


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
        return list(await self.pool.fetch(EVENTS_SQL, after, BATCH))

    async def latest(self) -> int:
        return int(await self.pool.fetchval("SELECT greatest((SELECT coalesce(max(event_id), 0) FROM ledger), "
                                            "(SELECT coalesce(max(event_id), 0) FROM admin_events))"))


def row_types(row: asyncpg.Record) -> list[str]:
    """The types an event row carries (a ledger row may carry several, an admin_events row one)."""
    if row["type"] is not None:
        return [row["type"]]
    return event_types(row["kind"], row["amount"])


def _format(row: asyncpg.Record, types: list[str]) -> bytes:
    data: dict[str, Any]
    if row["type"] is not None:
        data = {"types": types, "account": row["account_id"], **json.loads(row["data"]),
                "at": row["created_at"].isoformat()}
    else:
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
            types = row_types(row)
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
            """Live events (balance changed, bundle activated/expired/used up, session started/ended, payment
            confirmed), filtered by account and type; send Last-Event-ID to resume after a dropped connection."""
            wanted = frozenset(t for t in (type or []) if t in TYPES)
            after = int(last_event_id) if last_event_id and last_event_id.isdigit() else await hub.latest()
            return StreamingResponse(stream(hub, after, account, wanted, request.is_disconnected),
                                     media_type="text/event-stream",
                                     headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    return add


__all__ = ["TYPES", "LedgerHub", "emit_event", "event_types", "routes", "row_types", "stream"]
