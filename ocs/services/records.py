"""Paged reads of the ledger and the session records (issue 16 point 1: "ledger and CDRs, paged, filtered by
account and time"). Pages are newest first and keyset-paged: a page's `next` cursor names where the next page
starts, so rows written meanwhile neither repeat nor shift a page. Times are [since, until).

- Ledger: the rows PostgreSQL holds (the ledger writer moves them within seconds), by event id.
- CDRs: the Gy charging data records (TS 32.299 §6.3, `gy_cdrs`) and the hotspot session records (RFC 2866,
  `hotspot_sessions`), by start time.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

from ocs.charging.model import LedgerEntry
from ocs.services.charging import ChargingService
from ocs.store import ledger as ledger_store


class BadCursor(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Page:
    items: list[dict[str, Any]]
    next: str | None


def _iso(t: datetime) -> str:
    return t.isoformat().replace("+00:00", "Z")


async def ledger_page(pool: asyncpg.Pool, *, account: str | None, since: datetime | None, until: datetime | None,
                      cursor: str | None, limit: int) -> Page:
    """Ledger rows newest first; `cursor` is the `next` of the page before."""
    before = None
    if cursor is not None:
        if not cursor.isdigit() or len(cursor) > 19:
            raise BadCursor("cursor: the `next` value of a previous page")
        before = int(cursor)
    rows = await pool.fetch(
        "SELECT event_id, entry_id, account_id, seq, kind, amount, balance_after, ref, detail::text AS detail, "
        "created_at FROM ledger WHERE ($1::text IS NULL OR account_id = $1) AND ($2::timestamptz IS NULL OR "
        "created_at >= $2) AND ($3::timestamptz IS NULL OR created_at < $3) AND ($4::bigint IS NULL OR "
        "event_id < $4) ORDER BY event_id DESC LIMIT $5", account, since, until, before, limit + 1)
    items = [{"event_id": r["event_id"], "entry_id": r["entry_id"], "account": r["account_id"], "seq": r["seq"],
              "kind": r["kind"], "amount": r["amount"], "balance_after": r["balance_after"], "ref": r["ref"],
              "created_at": _iso(r["created_at"]), "detail": json.loads(r["detail"])} for r in rows[:limit]]
    return Page(items, str(items[-1]["event_id"]) if len(rows) > limit else None)


async def account_ledger(charging: ChargingService, account: str, *, since: datetime | None,
                         until: datetime | None, limit: int) -> list[LedgerEntry]:
    """An account's latest entries in [since, until), newest first: PostgreSQL plus what Redis holds not yet
    written (as ChargingService.ledger)."""
    if since is None and until is None:
        return await charging.ledger(account, limit)
    lo = since.timestamp() * 1000 if since is not None else float("-inf")
    hi = until.timestamp() * 1000 if until is not None else float("inf")
    pending = [e for e in await ledger_store.pending_entries(charging.store, account) if lo <= e.created_ms < hi]
    rows = await charging.pool.fetch(
        "SELECT * FROM ledger WHERE account_id = $1 AND ($2::timestamptz IS NULL OR created_at >= $2) AND "
        "($3::timestamptz IS NULL OR created_at < $3) ORDER BY seq DESC LIMIT $4", account, since, until, limit)
    entries = {e.entry_id: e for e in map(ledger_store.ledger_entry_from_row, rows)}
    for e in pending:
        entries.setdefault(e.entry_id, e)
    return sorted(entries.values(), key=lambda e: e.seq, reverse=True)[:limit]


CDRS = """
SELECT * FROM (
  SELECT 'gy' AS app, record_id AS id, account_id, imsi, msisdn, peer, started_at, stopped_at, cause,
         usage::text AS usage, NULL::text AS user_name, NULL::text AS calling_station_id, NULL::text AS framed_ip,
         NULL::bigint AS input_octets, NULL::bigint AS output_octets, NULL::bigint AS session_time
    FROM gy_cdrs
   WHERE ($1::text IS NULL OR account_id = $1) AND ($2::timestamptz IS NULL OR started_at >= $2)
     AND ($3::timestamptz IS NULL OR started_at < $3)
     AND ($4::timestamptz IS NULL OR (started_at, 'gy', record_id) < ($4, $5, $6))
  UNION ALL
  SELECT 'radius', acct_session_id, account_id, '', '', client, started_at, stopped_at, terminate_cause,
         NULL, user_name, calling_station_id, framed_ip, input_octets, output_octets, session_time
    FROM hotspot_sessions
   WHERE ($1::text IS NULL OR account_id = $1) AND ($2::timestamptz IS NULL OR started_at >= $2)
     AND ($3::timestamptz IS NULL OR started_at < $3)
     AND ($4::timestamptz IS NULL OR (started_at, 'radius', acct_session_id) < ($4, $5, $6))
) AS c ORDER BY started_at DESC, app DESC, id DESC LIMIT $7
"""


def _cdr_cursor(cursor: str | None) -> tuple[datetime | None, str | None, str | None]:
    if cursor is None:
        return None, None, None
    try:
        at, app, sid = cursor.split("|", 2)
        if app not in ("gy", "radius"):
            raise ValueError(app)
        return datetime.fromisoformat(at), app, sid
    except ValueError:
        raise BadCursor("cursor: the `next` value of a previous page") from None


async def cdr_page(pool: asyncpg.Pool, *, account: str | None, since: datetime | None, until: datetime | None,
                   cursor: str | None, limit: int) -> Page:
    """Session records newest first (by start): Gy CDRs and hotspot sessions."""
    at, app, sid = _cdr_cursor(cursor)
    rows = await pool.fetch(CDRS, account, since, until, at, app, sid, limit + 1)
    items = []
    for r in rows[:limit]:
        item: dict[str, Any] = {"app": r["app"], "session": r["id"], "account": r["account_id"],
                                "start": _iso(r["started_at"]), "stop": _iso(r["stopped_at"]), "cause": r["cause"]}
        if r["app"] == "gy":
            item.update(imsi=r["imsi"] or None, msisdn=r["msisdn"] or None, peer=r["peer"],
                        usage=json.loads(r["usage"]), radius=None)
        else:
            item.update(imsi=None, msisdn=None, peer=r["peer"], usage=[],
                        radius={"user": r["user_name"], "calling_station_id": r["calling_station_id"],
                                "framed_ip": r["framed_ip"], "input_octets": r["input_octets"],
                                "output_octets": r["output_octets"], "session_time": r["session_time"]})
        items.append(item)
    nxt = None
    if len(rows) > limit:
        last = rows[limit - 1]
        nxt = f"{last['started_at'].isoformat()}|{last['app']}|{last['id']}"
    return Page(items, nxt)


__all__ = ["BadCursor", "Page", "account_ledger", "cdr_page", "ledger_page"]
