"""Blocking an account and barring a SIM (issue 9): the operations the CLI (`ocsd account block|unblock`,
`ocsd subscriber set --status barred`) and the admin API call.

- `block(account, reason)`: PostgreSQL first (the truth, with an audit row), then the account's Redis flag; from
  then on Gy refuses the account with 4010 DIAMETER_END_USER_SERVICE_DENIED (RFC 4006 §9.1): a CCR-I and a CCR-E
  are refused and change nothing, a CCR-U has its usage charged but gets no grant (its session keeps living, so
  unblocking can re-authorize it), a CCR-T ends its session as always.
- `unblock(account)`: the reverse, then a RAR (RFC 4006 §5.5, RFC 6733 §8.3) to each live session of the account
  that was refused or got its last grant, exactly as after a top-up (ocs.services.gy_notify).
- A SIM barred by `subscriber set --status barred` (TS 29.272 §7.3.30 Operator-Determined-Barring, which S6a sends
  in the ULA) is refused the same way on Gy, whichever account it charges.
Both are idempotent: blocking a blocked account changes nothing but its reason.
"""

from __future__ import annotations

from typing import Any

import asyncpg
import structlog

from ocs.charging.errors import ChargingError, UnknownAccount
from ocs.services.gy_notify import notify_reauth
from ocs.store.account_status import BLOCKED, barred_fields, get_status, set_flags, set_status, view
from ocs.store.redis_client import RedisStore

log = structlog.get_logger("ocs.accounts")

MAX_REASON = 200


class InvalidReason(ChargingError):
    """A block reason that is too long or holds control characters."""

    code = "invalid_reason"


def check_reason(reason: str | None) -> str | None:
    if reason is None:
        return None
    if len(reason) > MAX_REASON or not reason.isprintable():
        raise InvalidReason(f"reason: at most {MAX_REASON} printable characters")
    return reason


async def _change(pool: asyncpg.Pool, store: RedisStore, account: str, status: str, reason: str | None,
                  by: str | None) -> dict[str, Any]:
    from ocs.services.subscriber_admin import audit

    async with pool.acquire() as conn, conn.transaction():
        row, before = await set_status(conn, account, status, reason)
        if row is None:
            raise UnknownAccount(account)
        if before != status:
            await audit(conn, f"account.{'block' if status == 'blocked' else 'unblock'}", account,
                        {"status": {"from": before, "to": status}, "reason": reason}, by=by)
    blocked = status == "blocked"
    await set_flags(store, account, [BLOCKED] if blocked else [], [] if blocked else [BLOCKED])
    log.info("account-status", account=account, status=status, changed=before != status)
    return {"ok": True, **view(row), "changed": before != status}


async def block(pool: asyncpg.Pool, store: RedisStore, account: str, reason: str | None = None, *,
                by: str | None = None) -> dict[str, Any]:
    """Block `account` (Gy answers 4010); {"ok", "account", "status", "reason", "changed_at", "changed"}."""
    return await _change(pool, store, account, "blocked", check_reason(reason), by)


async def unblock(pool: asyncpg.Pool, store: RedisStore, account: str, *, by: str | None = None) -> dict[str, Any]:
    """Unblock `account`; its live sessions that were refused are re-authorized by RAR."""
    out = await _change(pool, store, account, "active", None, by)
    await notify_reauth(store, account)
    return out


async def status(pool: asyncpg.Pool, account: str) -> dict[str, Any]:
    row = await get_status(pool, account)
    if row is None:
        raise UnknownAccount(account)
    return view(row)


async def sim_barred(store: RedisStore, account: str, imsi: str, msisdn: str | None, barred: bool) -> None:
    """Mirror a SIM's barring (subscribers.status, already written) into its account's Redis hash; an unbarred
    SIM's refused sessions are re-authorized by RAR."""
    fields = barred_fields(imsi, msisdn)
    await set_flags(store, account, fields if barred else [], [] if barred else fields)
    if not barred:
        await notify_reauth(store, account)


__all__ = ["InvalidReason", "block", "check_reason", "sim_barred", "status", "unblock"]
