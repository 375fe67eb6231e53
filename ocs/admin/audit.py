"""Every write through the admin port is audited (issue 16 point 3): who (the token's name), what (method, path,
answer status), when — one row in the `audit` table of 005_ops_audit.sql, action `api.<METHOD>`, target the
path. Reads (GET/HEAD) and requests refused before a token was recognised are not written. Routes that audit a
change in their own transaction (tokens, subscriber set) do so in addition, with the change's detail.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

import asyncpg
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = structlog.get_logger("ocs.admin")

READS = frozenset({"GET", "HEAD", "OPTIONS"})


class AuditWriter:
    """Group commit: the rows of concurrent writes go to PostgreSQL in one INSERT (one commit, one WAL flush);
    each request waits for its row's commit, so a write is audited before its connection serves the next."""

    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool
        self._queue: list[tuple[tuple[str, str, str, str], asyncio.Future[None]]] = []
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def write(self, actor: str, action: str, target: str, detail: dict[str, Any]) -> None:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name="admin-audit")
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._queue.append(((actor, action, target, json.dumps(detail)), done))
        self._wake.set()
        await done

    async def _run(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            batch, self._queue = self._queue, []
            if not batch:
                continue
            rows = [row for row, _ in batch]
            try:
                await self.pool.execute(
                    "INSERT INTO audit (actor, action, target, detail) SELECT a, b, c, d::jsonb "
                    "FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) AS u(a, b, c, d)",
                    *(list(column) for column in zip(*rows, strict=True)))
            except Exception as e:
                for _, done in batch:
                    if not done.done():
                        done.set_exception(e)
            else:
                for _, done in batch:
                    if not done.done():
                        done.set_result(None)

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task


class AuditMiddleware:
    def __init__(self, app: ASGIApp, writer: AuditWriter) -> None:
        self.app = app
        self.writer = writer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in READS:
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            who: Any = scope.get("state", {}).get("principal")
            if who is not None:
                await self._write(who.name, scope["method"], scope["path"], status)

    async def _write(self, actor: str, method: str, path: str, status: int) -> None:
        try:
            await self.writer.write(actor, f"api.{method}", path, {"status": status})
        except Exception as e:  # the answer is sent; a lost audit row is logged loudly, not turned into an error
            log.error("admin-audit-failed", method=method, path=path, actor=actor, error=str(e))


__all__ = ["AuditMiddleware", "AuditWriter"]
