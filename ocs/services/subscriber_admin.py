"""Subscriber administration beyond add/show/delete (issue 13 point 4): paged listing, `subscriber set` (each
changed field audited in `audit`, keys re-sealed and their cached AuC record dropped), and the audit trail.

Status: the CLI's `blocked` is stored as `barred` (the subscribers table's word, TS 29.272 §7.3.30 ODB), and
shown as given back by `show`/`list`.
"""

from __future__ import annotations

import getpass
import json
from dataclasses import dataclass
from typing import Any

import asyncpg

from ocs.provisioning import SubscriberExists, SubscriberNotFound
from ocs.sealing import Sealer
from ocs.services.auc import aad
from ocs.services.charging import ChargingService

STATUS_IN = {"active": "active", "blocked": "barred", "barred": "barred"}


def actor() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment (e.g. a container without passwd entry)
        return "unknown"


async def audit(conn: asyncpg.Connection, action: str, target: str, detail: dict[str, Any], *,
                by: str | None = None) -> None:
    """One audit row; `by` names the actor (an admin API token), else the operating-system user (the CLI)."""
    await conn.execute("INSERT INTO audit (actor, action, target, detail) VALUES ($1, $2, $3, $4::jsonb)",
                       by or actor(), action, target, json.dumps(detail))


class UnknownPlan(LookupError):
    """`subscriber set --plan CODE` names no plan."""


@dataclass(frozen=True, slots=True)
class Changes:
    """What `subscriber set` changes (None: unchanged)."""

    msisdn: str | None = None
    status: str | None = None
    apns: tuple[str, ...] | None = None
    ambr_ul: int | None = None
    ambr_dl: int | None = None
    k: bytes | None = None
    opc: bytes | None = None
    plan: str | None = None  # a Gx plan code (issue 10 point 1)


async def list_subscribers(pool: asyncpg.Pool, *, status: str | None, after: str | None,
                           limit: int) -> list[dict[str, Any]]:
    """One page, by IMSI: those after `after` (keyset paging: pass the last IMSI of a page to get the next)."""
    rows = await pool.fetch(
        "SELECT imsi, msisdn, status, apns, account_id FROM subscribers WHERE ($1::text IS NULL OR status = $1) "
        "AND ($2::text IS NULL OR imsi > $2) ORDER BY imsi LIMIT $3",
        STATUS_IN.get(status, status) if status else None, after, limit)
    return [{"imsi": r["imsi"], "msisdn": r["msisdn"], "status": r["status"], "apns": list(r["apns"]),
             "account": r["account_id"]} for r in rows]


async def update_subscriber(pool: asyncpg.Pool, sealer: Sealer, charging: ChargingService, who: str,
                            c: Changes, *, action: str = "subscriber.set") -> dict[str, Any]:
    """Apply `c` to the subscriber named by IMSI or MSISDN in one transaction with its audit row; returns the
    changed fields as {"field": {"from": old, "to": new}} (keys as "changed")."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow(
            "SELECT imsi, msisdn, status, apns, ambr_ul, ambr_dl, account_id, plan_code FROM subscribers "
            "WHERE imsi = $1 OR msisdn = $1 ORDER BY imsi = $1 DESC LIMIT 1 FOR UPDATE", who)
        if row is None:
            raise SubscriberNotFound(who)
        imsi = row["imsi"]
        changed: dict[str, Any] = {}
        sets: list[str] = []
        args: list[Any] = []

        def put(column: str, new: Any, old: Any, shown: Any = None) -> None:
            if new is None or new == old:
                return
            args.append(new)
            sets.append(f"{column} = ${len(args)}")
            changed[column] = shown if shown is not None else {"from": old, "to": new}

        put("msisdn", c.msisdn, row["msisdn"])
        put("status", STATUS_IN[c.status] if c.status else None, row["status"])
        put("apns", list(c.apns) if c.apns is not None else None, list(row["apns"]))
        put("ambr_ul", c.ambr_ul, row["ambr_ul"])
        put("ambr_dl", c.ambr_dl, row["ambr_dl"])
        if c.plan is not None and not await conn.fetchval("SELECT true FROM plans WHERE code = $1", c.plan):
            raise UnknownPlan(f"no plan {c.plan}")
        put("plan_code", c.plan, row["plan_code"])
        if c.k is not None:
            put("k_enc", sealer.seal(c.k, aad("k", imsi)), None, "changed")
        if c.opc is not None:
            put("opc_enc", sealer.seal(c.opc, aad("opc", imsi)), None, "changed")
        if not changed:
            return {}
        args.append(imsi)
        try:
            await conn.execute(f"UPDATE subscribers SET {', '.join(sets)}, updated_at = now() "
                               f"WHERE imsi = ${len(args)}", *args)
        except asyncpg.UniqueViolationError:
            raise SubscriberExists(f"MSISDN {c.msisdn} is already provisioned") from None
        await audit(conn, action, imsi, changed)
    store = charging.store
    if "k_enc" in changed or "opc_enc" in changed:
        await store.client.delete(store.key(imsi, "auc"))  # the AuC reloads the new keys from PostgreSQL
    if "plan_code" in changed:  # pushed to the SIM's live PCEF sessions by RAR (ocs.services.gx_notify)
        from ocs.services.gx_notify import notify_plan

        await notify_plan(store, imsi)
    if "msisdn" in changed and row["account_id"] is not None:
        await charging.redis.unlink(imsi, row["msisdn"])
        await charging.redis.link(row["account_id"], imsi, changed["msisdn"]["to"])
    await _mirror_barring(charging, row, changed)
    return changed


async def _mirror_barring(charging: ChargingService, row: Any, changed: dict[str, Any]) -> None:
    """A barred SIM is refused on Gy too (4010, ocs.services.account_status): its flags follow the status and
    the MSISDN in the account's Redis hash."""
    from ocs.services.account_status import sim_barred

    account = row["account_id"]
    if account is None or not ("status" in changed or "msisdn" in changed):
        return
    barred = changed["status"]["to"] == "barred" if "status" in changed else row["status"] == "barred"
    if "msisdn" in changed and row["status"] == "barred":  # the old MSISDN's flag goes
        await sim_barred(charging.store, account, row["imsi"], row["msisdn"], False)
    new_msisdn = changed["msisdn"]["to"] if "msisdn" in changed else row["msisdn"]
    if barred or "status" in changed:
        await sim_barred(charging.store, account, row["imsi"], new_msisdn, barred)


async def close_account(charging: ChargingService, account: str, imsi: str) -> int | None:
    """Before the last SIM of an account is deleted with money left: release its reservations and write a
    closing `adjust` entry taking the balance to 0 (the ledger keeps where the money went). The amount
    closed, or None when there was nothing to close."""
    from ocs.charging.errors import UnknownSubscriber

    try:
        view = await charging.account(account)
    except UnknownSubscriber:
        return None
    for rkey in await charging.redis.reservations(account):
        await charging.redis.release(account, rkey)
    view = await charging.account(account)
    if not view.balance:
        return None
    await charging.adjust(account, -view.balance, f"close:{imsi}", f"subscriber {imsi} deleted")
    return int(view.balance)


__all__ = ["Changes", "UnknownPlan", "actor", "audit", "close_account", "list_subscribers", "update_subscriber"]
