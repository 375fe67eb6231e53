"""Every write through the admin port is audited (issue 16 point 3): who (the token's name), what (method, path,
answer status), when — one row in the `audit` table of 005_ops_audit.sql, action `api.<METHOD>`, target the
path. Reads (GET/HEAD) and requests refused before a token was recognised are not written. Routes that audit a
change in their own transaction (tokens, subscriber set) do so in addition, with the change's detail.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ocs.services.subscriber_admin import audit

log = structlog.get_logger("ocs.admin")

READS = frozenset({"GET", "HEAD", "OPTIONS"})


class AuditMiddleware:
    def __init__(self, app: ASGIApp, pool: asyncpg.Pool) -> None:
        self.app = app
        self.pool = pool

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
            async with self.pool.acquire() as conn:
                await audit(conn, f"api.{method}", path, {"status": status}, by=actor)
        except Exception as e:  # the answer is sent; a lost audit row is logged loudly, not turned into an error
            log.error("admin-audit-failed", method=method, path=path, actor=actor, error=str(e))


__all__ = ["AuditMiddleware"]
