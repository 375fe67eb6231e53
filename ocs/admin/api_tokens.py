"""/api/v1/tokens: API tokens over HTTP (admin role only), the same TokenStore as `ocsd token ...`."""

from __future__ import annotations

from collections.abc import Callable

from fastapi import FastAPI
from pydantic import BaseModel, Field

from ocs.admin.auth import Admin
from ocs.admin.problems import ApiError, problem_responses
from ocs.admin.tokens import TokenError, TokenStore


class TokenIn(BaseModel):
    role: str = Field(pattern="^(admin|operator|read|payments)$")
    name: str = Field(min_length=1, max_length=64)


class TokenOut(BaseModel):
    id: int
    name: str
    role: str
    created_at: str
    revoked_at: str | None = None


class NewToken(TokenOut):
    token: str  # shown once


def routes(store: TokenStore) -> Callable[[FastAPI], None]:
    def add(app: FastAPI) -> None:
        @app.post("/api/v1/tokens", status_code=201, tags=["tokens"], responses=problem_responses(409))
        async def create_token(body: TokenIn, who: Admin) -> NewToken:
            """Make a token (its secret is in this answer only)."""
            try:
                secret, row = await store.create(body.role, body.name, by=who.name)
            except TokenError as e:
                raise ApiError(409, "token_exists", str(e)) from e
            return NewToken(**row, token=secret)

        @app.get("/api/v1/tokens", tags=["tokens"])
        async def list_tokens(_who: Admin) -> list[TokenOut]:
            """Every token, revoked ones too (never a secret)."""
            return [TokenOut(**r) for r in await store.list()]

        @app.delete("/api/v1/tokens/{name}", status_code=204, tags=["tokens"], responses=problem_responses(404))
        async def revoke_token(name: str, who: Admin) -> None:
            """Revoke the live token `name`."""
            if not await store.revoke(name, by=who.name):
                raise ApiError(404, "unknown_token", f"no live token named {name}")

    return add


__all__ = ["routes"]
