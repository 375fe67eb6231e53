"""Every write through the admin port is audited (issue 16 point 3): who (the token's name), what (method, path,
answer status), when — one row in the `audit` table of 005_ops_audit.sql, action `api.<METHOD>`, target the
path. Reads (GET/HEAD) and requests refused before a token was recognised are not written. Routes that audit a
change in their own transaction (tokens, subscriber set, catalog changes) do so in addition, with the change's
detail.

The rows are written behind (issue 16 point 7: the audit insert was a PostgreSQL commit on every write's
path): the middleware queues the row with the time of the request, and one task inserts whatever is queued in
one statement, GATHER seconds after the first row of a burst; stopping the daemon flushes the queue. Rows
whose insert fails are retried with the next batch (PostgreSQL down: rows wait in memory, up to MAX_QUEUED,
then the oldest are dropped with an error log). A crash loses at most the rows of the last GATHER seconds.
The same middleware counts every answer in `ocsd_admin_requests_total` (method, route template, status).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import UTC, datetime
from typing import Any

import asyncpg
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ocs.admin.metrics import admin_requests_total

log = structlog.get_logger("ocs.admin")

READS = frozenset({"GET", "HEAD", "OPTIONS"})


MAX_QUEUED = 100_000
RETRY_DELAY = 1.0
GATHER = 0.02  # seconds the writer lets rows gather after the first one: one INSERT per burst, not per request


class AuditWriter:
    """Group commit behind the requests: the rows queued since the last insert go to PostgreSQL in one INSERT."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._queue: list[tuple[str, str, str, str, datetime]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._closing = False

    def write(self, actor: str, action: str, target: str, detail: dict[str, Any]) -> None:
        """Queue one row (the insert follows within a loop turn or two)."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="admin-audit")
        if len(self._queue) >= MAX_QUEUED:
            log.error("admin-audit-dropped", rows=len(self._queue) - MAX_QUEUED + 1)
            del self._queue[:len(self._queue) - MAX_QUEUED + 1]
        self._queue.append((actor, action, target, json.dumps(detail), datetime.now(UTC)))
        self._wake.set()

    async def _flush(self) -> None:
        batch, self._queue = self._queue, []
        if not batch:
            return
        try:
            await self.pool.execute(
                "INSERT INTO audit (actor, action, target, detail, at) SELECT a, b, c, d::jsonb, e "
                "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::timestamptz[]) AS u(a, b, c, d, e)",
                *(list(column) for column in zip(*batch, strict=True)))
        except Exception as e:  # kept for the next try; the answers were sent already
            self._queue[:0] = batch
            log.error("admin-audit-failed", rows=len(batch), error=str(e) or type(e).__name__)
            raise

    async def _run(self) -> None:
        while not self._closing:
            await self._wake.wait()
            await asyncio.sleep(GATHER)
            self._wake.clear()
            try:
                await self._flush()
            except Exception:
                await asyncio.sleep(RETRY_DELAY)
                self._wake.set()

    async def close(self) -> None:
        self._closing = True
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        with contextlib.suppress(Exception):
            await self._flush()  # what the last requests queued


class AuditMiddleware:
    def __init__(self, app: ASGIApp, writer: AuditWriter) -> None:
        self.app = app
        self.writer = writer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method = scope["method"]
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route: Any = scope.get("route")
            admin_requests_total.inc((method, route.path if route is not None else "-", str(status)))
            who: Any = scope.get("state", {}).get("principal")
            if who is not None and method not in READS:
                self.writer.write(who.name, f"api.{method}", scope["path"], {"status": status})


__all__ = ["AuditMiddleware", "AuditWriter"]
