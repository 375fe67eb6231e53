"""SMS billing service (issue 18): the one place the admin API, the CLI, the Gy hook and the Jasmin consumers
call. Charging touches Redis only (prices from memory, one script call after the message id's claim);
provisioning writes PostgreSQL first, then the Redis copy the charge script reads.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog

from ocs.charging.errors import UnknownAccount
from ocs.config.sms import SmsConfig
from ocs.sms.errors import InvalidSms, NoSmsTariff, UnknownDispatch, UnknownMessage
from ocs.sms.events import DeliveryReport, SubmitResult
from ocs.sms.pricing import (
    PriceBook,
    SmsTariff,
    check_message_id,
    check_parts,
    check_sender,
    check_tariff,
    month_of,
    normalise_destination,
)
from ocs.sms.records import stored_record
from ocs.sms.store import SmsRedis
from ocs.store.redis_client import RedisStore

log = structlog.get_logger("ocs.sms")
SENDER_STATUSES = ("pending", "approved", "rejected")
COUNTERS = ("sent", "parts", "pending", "delivered", "failed", "cost")


@dataclass(frozen=True, slots=True)
class ChargeRequest:
    account: str
    message_id: str
    destination: str
    parts: int = 1
    sender_id: str | None = None
    dispatch_id: str | None = None
    mccmnc: str | None = None


@dataclass(frozen=True, slots=True)
class ChargeResult:
    message_id: str
    price: int
    balance: int
    entry: str
    parts: int
    plan: str
    duplicate: bool

    def as_dict(self) -> dict[str, Any]:
        return {"message_id": self.message_id, "price": self.price, "balance": self.balance, "entry": self.entry,
                "parts": self.parts, "plan": self.plan, "duplicate": self.duplicate}


@dataclass(frozen=True, slots=True)
class Outcome:
    """What an event did: `found` False when no charged message matches (acknowledged, counted)."""

    found: bool
    changed: bool
    refunded: int
    submit: str
    delivery: str


def _record(message_id: str, raw: dict[str, str]) -> dict[str, Any]:
    ints = ("parts", "price", "charged_at", "submitted_at", "delivered_at", "refunded_at", "rev")
    out: dict[str, Any] = {"message_id": message_id}
    for k, v in raw.items():
        out[k] = int(v) if k in ints and v.lstrip("-").isdigit() else v
    out["refunded"] = raw.get("refunded") == "1"
    for k in ("sender", "dispatch", "delivery"):
        out[k] = raw.get(k) or None
    return out


class SmsService:
    def __init__(self, store: RedisStore, pool: asyncpg.Pool, config: SmsConfig | None = None, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.config = config or SmsConfig()
        self.pool = pool
        self.redis = SmsRedis(store, self.config.record_ttl)
        self.clock = clock
        self.book = PriceBook()

    async def load(self) -> None:
        """Read the tariffs into memory (at start, and to pick up other processes' changes)."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch("SELECT * FROM sms_tariffs ORDER BY plan, match_kind, match, from_count")
        self.book = PriceBook(SmsTariff(r["plan"], r["match_kind"], r["match"], r["from_count"], r["price"],
                                        r["currency"]) for r in rows)

    # ---- tariffs
    async def set_tariff(self, tariff: SmsTariff) -> SmsTariff:
        check_tariff(tariff)
        known = self.book.currency(tariff.plan)
        if known is not None and known != tariff.currency:
            raise InvalidSms(f"plan {tariff.plan} is priced in {known}")
        async with self.pool.acquire() as conn:
            await conn.execute(
                """INSERT INTO sms_tariffs (plan, match_kind, match, from_count, price, currency)
                   VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (plan, match_kind, match, from_count)
                   DO UPDATE SET price = $5, currency = $6, updated_at = now()""",
                tariff.plan, tariff.match_kind, tariff.match, tariff.from_count, tariff.price, tariff.currency)
        self.book.add(tariff)
        return tariff

    async def list_tariffs(self, plan: str | None = None) -> list[SmsTariff]:
        await self.load()
        async with self.pool.acquire() as conn:
            rows = await conn.fetch("""SELECT * FROM sms_tariffs WHERE $1::text IS NULL OR plan = $1
                                       ORDER BY plan, match_kind, match, from_count""", plan)
        return [SmsTariff(r["plan"], r["match_kind"], r["match"], r["from_count"], r["price"], r["currency"])
                for r in rows]

    # ---- accounts, senders, dispatches
    async def _check_account(self, conn: asyncpg.Connection, account: str) -> None:
        if await conn.fetchval("SELECT 1 FROM accounts WHERE account_id = $1", account) is None:
            raise UnknownAccount(account)

    async def set_account(self, account: str, *, plan: str | None = None, refund_on_failure: bool | None = None,
                          rate_limit: int | None = None) -> dict[str, Any]:
        async with self.pool.acquire() as conn:
            await self._check_account(conn, account)
            row = await conn.fetchrow(
                """INSERT INTO sms_accounts (account_id, plan, refund_on_failure, rate_limit)
                   VALUES ($1, COALESCE($2, $5), COALESCE($3, false), $4)
                   ON CONFLICT (account_id) DO UPDATE SET plan = COALESCE($2, sms_accounts.plan),
                       refund_on_failure = COALESCE($3, sms_accounts.refund_on_failure),
                       rate_limit = COALESCE($4, sms_accounts.rate_limit), updated_at = now()
                   RETURNING *""", account, plan, refund_on_failure, rate_limit, self.config.default_plan)
        await self.redis.set_account(account, row["plan"], row["refund_on_failure"], row["rate_limit"],
                                     None if row["rate_limit"] is None else max(row["rate_limit"], 1))
        return {"account": account, "plan": row["plan"], "refund_on_failure": row["refund_on_failure"],
                "rate_limit": row["rate_limit"]}

    async def add_sender(self, account: str, sender_id: str) -> dict[str, Any]:
        check_sender(sender_id)
        async with self.pool.acquire() as conn:
            await self._check_account(conn, account)
            row = await conn.fetchrow(
                """INSERT INTO sms_senders (account_id, sender_id) VALUES ($1, $2)
                   ON CONFLICT (account_id, sender_id) DO UPDATE SET sender_id = EXCLUDED.sender_id
                   RETURNING *""", account, sender_id)
        await self.redis.set_sender(account, sender_id, row["status"])
        return _sender(row)

    async def decide_sender(self, account: str, sender_id: str, status: str) -> dict[str, Any]:
        if status not in SENDER_STATUSES:
            raise InvalidSms(f"sender status {status!r}")
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                """UPDATE sms_senders SET status = $3, decided_at = now() WHERE account_id = $1 AND sender_id = $2
                   RETURNING *""", account, sender_id, status)
        if row is None:
            raise InvalidSms(f"sender id {sender_id!r} of {account} was never added")
        await self.redis.set_sender(account, sender_id, status)
        log.info("sms-sender", account=account, sender=sender_id, status=status)
        return _sender(row)

    async def list_senders(self, account: str | None = None, status: str | None = None) -> list[dict[str, Any]]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                """SELECT * FROM sms_senders WHERE ($1::text IS NULL OR account_id = $1)
                   AND ($2::text IS NULL OR status = $2) ORDER BY account_id, sender_id""", account, status)
        return [_sender(r) for r in rows]

    async def create_dispatch(self, account: str, name: str = "", dispatch_id: str | None = None) -> dict[str, Any]:
        dispatch_id = dispatch_id or "d-" + secrets.token_hex(8)
        check_message_id(dispatch_id)
        async with self.pool.acquire() as conn:
            await self._check_account(conn, account)
            done = await conn.fetchval(
                """INSERT INTO sms_dispatches (dispatch_id, account_id, name) VALUES ($1, $2, $3)
                   ON CONFLICT DO NOTHING RETURNING dispatch_id""", dispatch_id, account, name)
        if done is None:
            raise InvalidSms(f"dispatch {dispatch_id} exists")
        await self.redis.create_dispatch(account, dispatch_id, name)
        return await self.dispatch(dispatch_id)

    async def dispatch(self, dispatch_id: str) -> dict[str, Any]:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow("SELECT * FROM sms_dispatches WHERE dispatch_id = $1", dispatch_id)
        if row is None:
            raise UnknownDispatch(dispatch_id)
        live = await self.redis.dispatch(row["account_id"], dispatch_id)
        out: dict[str, Any] = {"dispatch_id": dispatch_id, "account": row["account_id"], "name": row["name"],
                               "created_at": row["created_at"].isoformat()}
        out.update({k: int(live.get(k, 0)) for k in COUNTERS})
        return out

    async def message(self, message_id: str) -> dict[str, Any]:
        """The record from Redis, or once it expired there, its PostgreSQL copy (ocs.sms.records)."""
        account = await self.redis.account_of_message(message_id)
        raw = await self.redis.message(account, message_id) if account else {}
        if not raw:
            stored = await stored_record(self.pool, message_id)
            if stored is None:
                raise UnknownMessage(message_id)
            return stored
        return _record(message_id, raw)

    # ---- charging (hot path)
    async def charge(self, req: ChargeRequest, *, now: float | None = None) -> ChargeResult:
        """Price and debit one message, held against its message id: exactly once per message id (a repeat
        returns the first result, duplicate=True). Refusals change nothing."""
        check_message_id(req.message_id)
        destination = normalise_destination(req.destination)
        check_parts(req.parts)
        if req.sender_id is not None:
            check_sender(req.sender_id)
        plans = self.book.by_plan(destination, req.mccmnc)
        if not plans:
            raise NoSmsTariff(f"no plan has a tariff for {destination}")
        t = self.clock() if now is None else now
        await self.redis.claim(req.message_id, req.account)
        c = self.config
        reply = await self.redis.charge(
            req.account, req.message_id, destination, req.parts, req.sender_id or "", req.dispatch_id or "", plans,
            {p: self.book.currency(p) or "" for p in plans}, c.default_plan, month_of(t), int(t * 1000),
            c.rate_limit, c.rate_burst)
        return ChargeResult(req.message_id, int(reply["price"]), int(reply["balance"]), str(reply["entry"]),
                            int(reply["parts"]), str(reply["plan"]), bool(reply["duplicate"]))

    async def submit_result(self, event: SubmitResult, *, now: float | None = None) -> Outcome:
        """ESME_ROK finalizes the held charge, another ESME_* refunds it (once)."""
        account = await self.redis.account_of_message(event.message_id)
        if account is None:
            return Outcome(False, False, 0, "", "")
        if event.smpp_msgid and event.accepted:
            await self.redis.map_smpp(event.smpp_msgid, event.message_id)
        t = self.clock() if now is None else now
        reply = await self.redis.result(account, event.message_id, "submit", event.status, "", False,
                                        int(t * 1000), event.smpp_msgid or "")
        return _outcome(reply)

    async def delivery(self, event: DeliveryReport, *, now: float | None = None) -> Outcome:
        """A delivery receipt: the message's delivery state; UNDELIV/REJECTD refund under the account's policy."""
        message_id = event.message_id
        if message_id is None and event.smpp_msgid:
            message_id = await self.redis.message_of_smpp(event.smpp_msgid)
        account = await self.redis.account_of_message(message_id) if message_id else None
        if message_id is None or account is None:
            return Outcome(False, False, 0, "", "")
        t = self.clock() if now is None else now
        reply = await self.redis.result(account, message_id, "dlr", event.status, event.state, event.refundable,
                                        int(t * 1000))
        return _outcome(reply)


def _outcome(reply: dict[str, Any]) -> Outcome:
    return Outcome(bool(reply["found"]), bool(reply["changed"]), int(reply["refunded"]), str(reply["submit"]),
                   str(reply["delivery"]))


def _sender(row: asyncpg.Record) -> dict[str, Any]:
    return {"account": row["account_id"], "sender_id": row["sender_id"], "status": row["status"],
            "created_at": row["created_at"].isoformat(),
            "decided_at": row["decided_at"].isoformat() if row["decided_at"] else None}


__all__ = ["ChargeRequest", "ChargeResult", "Outcome", "SmsService"]
