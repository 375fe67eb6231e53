"""Payments in PostgreSQL (migration 011): the rows and the state changes, each one conditional UPDATE so that
two callbacks, a callback and the reconcile job, or two ocsd processes never move one payment twice.

States: pending (STK push sent) -> confirmed (the provider says paid, the receipt is recorded) -> applied (the
money or the voucher is in place); pending -> failed (ResultCode != 0, or never resolved) or mismatch (paid, but
amount or phone differ from what we asked: no money moves, an operator looks). A C2B confirmation or a signed
webhook starts at confirmed.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import asyncpg

FINAL = frozenset({"applied", "failed", "mismatch"})
ORPHAN_AFTER = 600.0  # seconds after which a push without CheckoutRequestID (we never heard Daraja's answer) fails


def new_payment_id() -> str:
    return "pay_" + secrets.token_urlsafe(18)  # 144 random bits: the portal's status URL is public


@dataclass(frozen=True, slots=True)
class Payment:
    id: str
    provider: str
    network: str
    ref: str
    checkout_request_id: str | None
    merchant_request_id: str | None
    receipt: str | None
    amount: int
    currency: str
    phone: str
    purpose: str
    item: str
    account_id: str | None
    mac: str
    status: str
    result_code: str
    result_desc: str
    voucher: str | None
    attempts: int
    last_error: str
    created_by: str
    created_at: datetime
    updated_at: datetime
    applied_at: datetime | None

    def json(self) -> dict[str, Any]:
        out = {name: getattr(self, name) for name in self.__slots__}  # type: ignore[attr-defined]
        for name in ("created_at", "updated_at", "applied_at"):
            out[name] = out[name].isoformat() if out[name] is not None else None
        out["for"] = self.purpose if not self.item else f"{self.purpose}:{self.item}"
        return out


def payment_view(p: Payment) -> dict[str, Any]:
    """A payment as the API, the CLI's --json and the notifications show it (`message`: for a person)."""
    from ocs.payments.mpesa import customer_message

    d = p.json()
    message = {"pending": "Waiting for the M-Pesa PIN on the phone.", "confirmed": "Paid; applying.",
               "applied": "Paid.", "mismatch": "The payment could not be matched; an operator will look at it.",
               }.get(p.status) or customer_message(p.result_code, p.result_desc)
    keep = ("id", "provider", "status", "amount", "currency", "phone", "for", "account_id", "mac",
            "checkout_request_id", "merchant_request_id", "receipt", "result_code", "result_desc", "voucher",
            "last_error", "created_at", "updated_at", "applied_at")
    return {k: d[k] for k in keep} | {"message": message}


def _payment(r: asyncpg.Record | None) -> Payment | None:
    return None if r is None else Payment(**dict(r))


class DuplicateReceipt(Exception):
    """A receipt (MpesaReceiptNumber, TransID, provider transaction id) already recorded on another payment."""


class PaymentStore:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def create(self, **fields: Any) -> Payment:
        """A new row; `fields` are columns. Raises asyncpg.UniqueViolationError on a reused ref/checkout."""
        fields.setdefault("id", new_payment_id())
        names = list(fields)
        sql = (f"INSERT INTO payments ({', '.join(names)}) VALUES "
               f"({', '.join(f'${i + 1}' for i in range(len(names)))}) RETURNING *")
        async with self.pool.acquire() as conn:
            p = _payment(await conn.fetchrow(sql, *fields.values()))
        assert p is not None
        return p

    async def create_confirmed(self, **fields: Any) -> tuple[Payment, bool]:
        """A payment the provider reports as done (C2B confirmation, signed webhook): (row, created). The same
        receipt again returns the first row and False (exactly once by (network, receipt))."""
        try:
            return await self.create(status="confirmed", **fields), True
        except asyncpg.UniqueViolationError:
            async with self.pool.acquire() as conn:
                r = await conn.fetchrow("SELECT * FROM payments WHERE network = $1 AND receipt = $2",
                                        fields["network"], fields["receipt"])
            found = _payment(r)
            if found is None:
                raise
            return found, False

    async def get(self, payment_id: str) -> Payment | None:
        async with self.pool.acquire() as conn:
            return _payment(await conn.fetchrow("SELECT * FROM payments WHERE id = $1", payment_id))

    async def by_checkout(self, checkout_request_id: str) -> Payment | None:
        async with self.pool.acquire() as conn:
            return _payment(await conn.fetchrow("SELECT * FROM payments WHERE checkout_request_id = $1",
                                                checkout_request_id))

    async def recent(self, *, status: str | None = None, limit: int = 50, before: str | None = None) -> list[Payment]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(
                "SELECT * FROM payments WHERE ($1::text IS NULL OR status = $1) AND "
                "($2::text IS NULL OR (created_at, id) < (SELECT created_at, id FROM payments WHERE id = $2)) "
                "ORDER BY created_at DESC, id DESC LIMIT $3", status, before, limit)
        return [p for p in map(_payment, rows) if p is not None]

    async def confirm(self, payment_id: str, receipt: str | None, code: str, desc: str) -> Payment | None:
        """pending -> confirmed with its receipt; None when the payment was not pending (a duplicate callback, or
        the reconcile job won). DuplicateReceipt when the receipt belongs to another payment."""
        try:
            async with self.pool.acquire() as conn:
                r = await conn.fetchrow(
                    "UPDATE payments SET status = 'confirmed', receipt = COALESCE($2, receipt), result_code = $3, "
                    "result_desc = $4, updated_at = now() WHERE id = $1 AND status = 'pending' RETURNING *",
                    payment_id, receipt, code, desc)
        except asyncpg.UniqueViolationError:
            raise DuplicateReceipt(receipt) from None
        return _payment(r)

    async def finish(self, payment_id: str, status: str, code: str, desc: str, *,
                     receipt: str | None = None) -> Payment | None:
        """pending -> failed | mismatch; None when it was not pending."""
        assert status in ("failed", "mismatch")
        async with self.pool.acquire() as conn:
            try:
                r = await conn.fetchrow(
                    "UPDATE payments SET status = $2, result_code = $3, result_desc = $4, "
                    "receipt = COALESCE($5, receipt), updated_at = now() "
                    "WHERE id = $1 AND status = 'pending' RETURNING *", payment_id, status, code, desc, receipt)
            except asyncpg.UniqueViolationError:  # the receipt is another payment's: keep it out of this row
                r = await conn.fetchrow(
                    "UPDATE payments SET status = $2, result_code = $3, result_desc = $4, updated_at = now() "
                    "WHERE id = $1 AND status = 'pending' RETURNING *", payment_id, status, code, desc)
        return _payment(r)

    async def set_account(self, payment_id: str, account: str, voucher: str | None = None) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute("UPDATE payments SET account_id = $2, voucher = COALESCE($3, voucher), "
                               "updated_at = now() WHERE id = $1", payment_id, account, voucher)

    async def applied(self, payment_id: str) -> Payment | None:
        """confirmed -> applied, and in the same transaction the `payment.confirmed` event of GET /api/v1/events
        (SQL `ocsd_emit_event`, migration 016): the event exists exactly when the money was applied, once."""
        async with self.pool.acquire() as conn, conn.transaction():
            p = _payment(await conn.fetchrow(
                "UPDATE payments SET status = 'applied', applied_at = now(), updated_at = now(), last_error = '' "
                "WHERE id = $1 AND status = 'confirmed' RETURNING *", payment_id))
            if p is not None:
                event = {"payment": p.id, "provider": p.provider, "amount": p.amount, "currency": p.currency,
                         "for": p.purpose if not p.item else f"{p.purpose}:{p.item}", "receipt": p.receipt}
                await conn.execute("SELECT ocsd_emit_event('payment.confirmed', $1, $2::jsonb)", p.account_id,
                                   json.dumps(event, separators=(",", ":")))
            return p

    async def apply_failed(self, payment_id: str, error: str) -> None:
        async with self.pool.acquire() as conn:
            await conn.execute("UPDATE payments SET attempts = attempts + 1, last_error = $2, updated_at = now() "
                               "WHERE id = $1", payment_id, error[:500])

    async def due(self, *, query_after: float, limit: int = 100) -> tuple[list[Payment], list[Payment]]:
        """What the reconcile job looks at: confirmed payments not applied yet, and STK pushes pending for longer
        than `query_after` seconds (oldest first; a push whose Daraja answer never reached us has no
        CheckoutRequestID: it is among them once ORPHAN_AFTER has passed)."""
        async with self.pool.acquire() as conn:
            confirmed = await conn.fetch("SELECT * FROM payments WHERE status = 'confirmed' ORDER BY created_at "
                                         "LIMIT $1", limit)
            pending = await conn.fetch(
                "SELECT * FROM payments WHERE status = 'pending' AND created_at < now() - make_interval(secs => "
                "CASE WHEN checkout_request_id IS NULL THEN $3::float8 ELSE $1::float8 END) "
                "ORDER BY created_at LIMIT $2",
                query_after, limit, ORPHAN_AFTER)
        return ([p for p in map(_payment, confirmed) if p is not None],
                [p for p in map(_payment, pending) if p is not None])

    async def age_seconds(self, payment: Payment) -> float:
        async with self.pool.acquire() as conn:
            return float(await conn.fetchval("SELECT extract(epoch FROM now() - $1::timestamptz)",
                                             payment.created_at))


__all__ = ["FINAL", "DuplicateReceipt", "Payment", "PaymentStore", "new_payment_id", "payment_view"]
