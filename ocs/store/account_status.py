"""The operator's refusals of an account, in PostgreSQL and in Redis (issue 9: blocked accounts).

PostgreSQL holds the truth: `accounts.status` ('active' | 'blocked', migration 015) with its reason and time, and
`subscribers.status` ('barred') for one SIM. Redis mirrors both in the account's hash, where the Gy scripts
(gy_ccr.lua, gy_event.lua) read them in the same call that charges: `blocked` = "1", and `barred:<imsi>` /
`barred:<msisdn>` = "1" for each barred SIM of the account (ocs/store/lua/acct_flags.lua sets and clears them).
`ocsd ledger rebuild-redis` writes them again from PostgreSQL (`flags_in_postgres`).
"""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from ocs.store.redis_client import RedisStore, ReplyError

BLOCKED = "blocked"
BARRED = "barred:"


def barred_fields(imsi: str, msisdn: str | None) -> list[str]:
    """The flag fields of one barred SIM: by IMSI and by MSISDN (a CCR may name the SIM by either)."""
    return [BARRED + imsi] + ([BARRED + msisdn] if msisdn else [])


async def set_flags(store: RedisStore, account: str, set_: list[str], clear: list[str]) -> bool:
    """Set and clear flag fields of the account's hash in one script; False when the account is not in Redis."""
    try:
        await store.evalsha("acct_flags", [store.key(account, "acct")],
                            [json.dumps({"set": set_, "clear": clear})])
    except ReplyError as e:
        if str(e).startswith("OCS unknown_account"):
            return False
        raise
    return True


async def flags_in_postgres(conn: asyncpg.Connection, account: str) -> dict[str, str]:
    """The flag fields the account's Redis hash must carry, from PostgreSQL (for the rebuild)."""
    # to_jsonb: NULL rather than an error on a schema before migration 015 (a rebuild during an upgrade)
    status = await conn.fetchval("SELECT to_jsonb(a) ->> 'status' FROM accounts a WHERE account_id = $1", account)
    flags = {BLOCKED: "1"} if status == "blocked" else {}
    for r in await conn.fetch("SELECT imsi, msisdn FROM subscribers WHERE account_id = $1 AND status = 'barred'",
                              account):
        flags.update(dict.fromkeys(barred_fields(r["imsi"], r["msisdn"]), "1"))
    return flags


async def set_status(conn: asyncpg.Connection, account: str, status: str,
                     reason: str | None) -> tuple[asyncpg.Record | None, str | None]:
    """Write the account's status (in the caller's transaction); (the new row, the status before), or (None,
    None) when there is no such account."""
    before = await conn.fetchval("SELECT status FROM accounts WHERE account_id = $1 FOR UPDATE", account)
    if before is None:
        return None, None
    row = await conn.fetchrow(
        "UPDATE accounts SET status = $2, status_reason = $3, status_changed_at = CASE WHEN status = $2 "
        "THEN status_changed_at ELSE now() END WHERE account_id = $1 "
        "RETURNING account_id, status, status_reason, status_changed_at", account, status, reason)
    return row, str(before)


async def get_status(pool: asyncpg.Pool, account: str) -> asyncpg.Record | None:
    return await pool.fetchrow("SELECT account_id, status, status_reason, status_changed_at FROM accounts "
                               "WHERE account_id = $1", account)


def view(row: Any) -> dict[str, Any]:
    at = row["status_changed_at"]
    return {"account": row["account_id"], "status": row["status"], "reason": row["status_reason"],
            "changed_at": at.isoformat() if at is not None else None}


__all__ = ["BARRED", "BLOCKED", "barred_fields", "flags_in_postgres", "get_status", "set_flags", "set_status",
           "view"]
