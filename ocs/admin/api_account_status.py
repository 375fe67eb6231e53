"""/api/v1/accounts/{account}/status, /block and /unblock: what `ocsd account block|unblock` does (issue 9 point 1)
over HTTP, through the same service (ocs.services.account_status). A blocked account is refused by Gy with 4010
DIAMETER_END_USER_SERVICE_DENIED (RFC 4006 §9.1) and by RADIUS with Access-Reject; unblocking re-authorizes its
refused live sessions by RAR. Both are idempotent: `changed` says whether the status moved."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asyncpg
from fastapi import FastAPI
from pydantic import BaseModel, Field

from ocs.admin.api_accounts import AccountPath
from ocs.admin.auth import Reader, Writer
from ocs.admin.problems import problem_responses
from ocs.services import account_status
from ocs.services.account_status import MAX_REASON
from ocs.store.redis_client import RedisStore


class BlockIn(BaseModel):
    reason: str | None = Field(default=None, max_length=MAX_REASON, pattern=r"^[^\x00-\x1f\x7f]*$")


class StatusOut(BaseModel):
    account: str
    status: str = Field(description="active | blocked")
    reason: str | None = None
    changed_at: str | None = Field(default=None, description="RFC 3339")


class StatusChange(StatusOut):
    changed: bool = Field(description="false when the account already had this status")


def _out(view: dict[str, Any]) -> dict[str, Any]:
    return {k: view[k] for k in ("account", "status", "reason", "changed_at")}


def routes(pool: asyncpg.Pool, store: RedisStore) -> Callable[[FastAPI], None]:

    def add(app: FastAPI) -> None:
        @app.get("/api/v1/accounts/{account}/status", tags=["accounts"], responses=problem_responses(404))
        async def get_status(account: AccountPath, _who: Reader) -> StatusOut:
            """Whether the account is blocked, why and since when."""
            return StatusOut(**_out(await account_status.status(pool, account)))

        @app.post("/api/v1/accounts/{account}/block", tags=["accounts"], responses=problem_responses(404, 422))
        async def block(account: AccountPath, body: BlockIn, who: Writer) -> StatusChange:
            """Block the account: Gy answers 4010, hotspot logins are rejected; its money stays as it is."""
            view = await account_status.block(pool, store, account, body.reason, by=who.name)
            return StatusChange(**_out(view), changed=view["changed"])

        @app.post("/api/v1/accounts/{account}/unblock", tags=["accounts"], responses=problem_responses(404))
        async def unblock(account: AccountPath, who: Writer) -> StatusChange:
            """Unblock the account; its live sessions that were refused are re-authorized by RAR."""
            view = await account_status.unblock(pool, store, account, by=who.name)
            return StatusChange(**_out(view), changed=view["changed"])

    return add


__all__ = ["routes"]
