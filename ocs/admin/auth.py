"""Who may do what on the admin port (issue 16 point 3): bearer tokens resolved to a role.

Roles: `admin` (everything), `operator` (provisioning and money, no token or config management), `read` (GET
only), `payments` (only the payment routes). A route names the permission it needs with `need(...)`:
"read", "write" (provisioning and money), "admin" (tokens, config) or "payments". The `[admin] token` of the
config is an admin token; other tokens live hashed in PostgreSQL (ocs.admin.tokens). No token configured and
no token store: every protected route answers 403.
"""

from __future__ import annotations

import hmac
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from ocs.admin.problems import ApiError

ROLES = ("admin", "operator", "read", "payments")
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({"read", "write", "admin", "payments"}),
    "operator": frozenset({"read", "write"}),
    "read": frozenset({"read"}),
    "payments": frozenset({"payments"}),
}


@dataclass(frozen=True, slots=True)
class Principal:
    name: str   # who, as written in the audit table: "config" for the [admin] token, else "token:<name>"
    role: str


Lookup = Callable[[str], Awaitable[Principal | None]]


@dataclass
class Authenticator:
    config_token: str | None = None
    lookup: Lookup | None = None  # tokens in PostgreSQL (ocs.admin.tokens.TokenStore.lookup)

    @property
    def enabled(self) -> bool:
        return self.config_token is not None or self.lookup is not None

    async def principal(self, authorization: str) -> Principal | None:
        scheme, _, given = authorization.partition(" ")
        given = given.strip()
        if scheme.lower() != "bearer" or not given:
            return None
        if self.config_token is not None and hmac.compare_digest(given.encode(), self.config_token.encode()):
            return Principal("config", "admin")
        if self.lookup is not None:
            return await self.lookup(given)
        return None


def need(permission: str) -> Callable[[Request], Awaitable[Principal]]:
    """A FastAPI dependency: the caller's Principal, or 401 (no/wrong token) / 403 (role lacks `permission`)."""

    async def check(request: Request) -> Principal:
        auth: Authenticator = request.app.state.auth
        if not auth.enabled:
            raise ApiError(403, "forbidden", "no admin token is configured ([admin] token)")
        try:
            who = await auth.principal(request.headers.get("authorization", ""))
        except Exception as e:  # PostgreSQL down or slow: the caller may retry (RFC 9110 §15.6.4)
            raise ApiError(503, "store_unavailable", f"cannot check the token: {e}") from e
        if who is None:
            raise ApiError(401, "unauthorized", "missing or wrong bearer token")
        if permission not in PERMISSIONS.get(who.role, frozenset()):
            raise ApiError(403, "forbidden", f"the role {who.role!r} may not do this ({permission})")
        request.state.principal = who
        return who

    return check


# Route parameters: `who: Reader` etc. (FastAPI resolves them; the OpenAPI document lists the 401/403 answers).
Reader = Annotated[Principal, Depends(need("read"))]
Writer = Annotated[Principal, Depends(need("write"))]
Admin = Annotated[Principal, Depends(need("admin"))]

__all__ = ["PERMISSIONS", "ROLES", "Admin", "Authenticator", "Principal", "Reader", "Writer", "need"]
