"""API tokens with roles, stored hashed in PostgreSQL (`admin_tokens`, migration 010): create, list, revoke, and
the lookup the admin port does per request (cached for a few seconds: a revoked token stops working within
CACHE_SECONDS). Creating and revoking are audited in `audit` (who, what, when).
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

import asyncpg

from ocs.admin.auth import ROLES, Principal
from ocs.services.subscriber_admin import audit

PREFIX = "ocsd_"
CACHE_SECONDS = 5.0
CACHE_MAX = 1024


class TokenError(ValueError):
    pass


def token_hash(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


@dataclass
class TokenStore:
    pool: asyncpg.Pool
    _cache: dict[bytes, tuple[float, Principal | None]] = field(default_factory=dict)

    async def create(self, role: str, name: str, *, by: str | None = None) -> tuple[str, dict[str, Any]]:
        """A new token: (the token, printed once and never stored; its row)."""
        if role not in ROLES:
            raise TokenError(f"unknown role {role!r}: one of {', '.join(ROLES)}")
        if not name or len(name) > 64 or not name.isprintable():
            raise TokenError("the name must be 1 to 64 printable characters")
        token = PREFIX + secrets.token_urlsafe(32)
        async with self.pool.acquire() as conn, conn.transaction():
            try:
                row = await conn.fetchrow(
                    "INSERT INTO admin_tokens (name, role, token_hash) VALUES ($1, $2, $3) "
                    "RETURNING id, name, role, created_at, revoked_at", name, role, token_hash(token))
            except asyncpg.UniqueViolationError as e:
                raise TokenError(f"a live token named {name!r} exists") from e
            await audit(conn, "token.create", name, {"role": role}, by=by)
        return token, _row(row)

    async def list(self) -> list[dict[str, Any]]:
        rows = await self.pool.fetch("SELECT id, name, role, created_at, revoked_at FROM admin_tokens ORDER BY id")
        return [_row(r) for r in rows]

    async def revoke(self, name: str, *, by: str | None = None) -> bool:
        async with self.pool.acquire() as conn, conn.transaction():
            done = await conn.fetchval("UPDATE admin_tokens SET revoked_at = now() WHERE name = $1 AND "
                                       "revoked_at IS NULL RETURNING id", name)
            if done is not None:
                await audit(conn, "token.revoke", name, {}, by=by)
        self._cache.clear()
        return done is not None

    async def lookup(self, token: str) -> Principal | None:
        key, now = token_hash(token), time.monotonic()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        row = await self.pool.fetchrow("SELECT name, role FROM admin_tokens WHERE token_hash = $1 AND "
                                       "revoked_at IS NULL", key)
        who = Principal(f"token:{row['name']}", row["role"]) if row is not None else None
        if len(self._cache) >= CACHE_MAX:
            self._cache.clear()
        self._cache[key] = (now + CACHE_SECONDS, who)
        return who


def _row(r: Any) -> dict[str, Any]:
    revoked = r["revoked_at"]
    return {"id": r["id"], "name": r["name"], "role": r["role"], "created_at": r["created_at"].isoformat(),
            "revoked_at": revoked.isoformat() if revoked is not None else None}


__all__ = ["PREFIX", "TokenError", "TokenStore", "token_hash"]
