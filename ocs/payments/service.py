"""Mobile money: initiate an STK push, take the provider's notices, apply each payment exactly once.

Theory of operation
-------------------
- `stk_push` checks what is bought (a top-up of an account, a bundle, a hotspot package for a device), records
  the payment as pending (PostgreSQL, unique CheckoutRequestID), sends the prompt through Daraja and answers at
  once with the payment's id.
- A notice (the STK callback, a C2B confirmation, a signed webhook) is acknowledged at once: the hook only parses
  it and puts it on an in-process queue (C2B and webhooks first record the payment as confirmed, unique by
  receipt). One worker task takes the queue: it matches the STK result against the pending payment (amount and
  phone must be what we asked for), moves it pending -> confirmed | failed | mismatch with one conditional UPDATE
  (a duplicate callback finds nothing pending and changes nothing), then applies it (ocs.payments.apply), trying
  `apply_retries` times.
- What the worker could not finish stays in PostgreSQL: `reconcile` (the CLI, and the housekeeping job every
  `reconcile_interval`) applies confirmed payments and asks Daraja (STK query) about pushes pending longer than
  `query_after`; a push that stays unresolved past `give_up_after` is failed.
- Watchers (the portal's live status) get every change of a payment's row through `watch(id)`.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from typing import Any

import structlog

from ocs.charging.currencies import MINOR_UNITS, format_major
from ocs.charging.errors import ChargingError, UnknownAccount
from ocs.config.payments import PaymentsConfig
from ocs.metrics import payments_total
from ocs.payments import mpesa
from ocs.payments.apply import apply_payment
from ocs.payments.daraja import DarajaError, StkStatus
from ocs.payments.notify import Notifier, NullNotifier
from ocs.payments.provider import PromptProvider
from ocs.payments.store import FINAL, DuplicateReceipt, Payment, PaymentStore, new_payment_id
from ocs.payments.watch import Watchers
from ocs.services.charging import ChargingService
from ocs.services.hotspot import HotspotService

log = structlog.get_logger("ocs.payments")

UNKNOWN_CHECKOUT_RETRIES = (0.2, 0.5, 1.0, 2.0)  # pauses: a callback may overtake the row update of its push


class PaymentRefused(Exception):
    """The request cannot be paid as asked (HTTP 422 / CLI exit 2); `status` 502/503 when the provider failed."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class Purchase:
    purpose: str   # topup | bundle | hotspot
    item: str = ""

    @classmethod
    def parse(cls, text: str) -> Purchase:
        purpose, _, item = text.partition(":")
        if purpose == "topup" and not item:
            return cls("topup")
        if purpose in ("bundle", "hotspot") and item:
            return cls(purpose, item)
        raise PaymentRefused(f"for: {text!r} must be topup, bundle:CODE or hotspot:CODE")


def normalize_mac(text: str) -> str:
    """A MAC as RouterOS sends Calling-Station-Id: upper case, colon separated."""
    hexes = "".join(c for c in text if c.isalnum()).upper()
    if len(hexes) != 12 or any(c not in "0123456789ABCDEF" for c in hexes):
        raise PaymentRefused(f"mac: {text!r} is not a MAC address")
    return ":".join(hexes[i:i + 2] for i in range(0, 12, 2))


class PaymentService:
    def __init__(self, store: PaymentStore, charging: ChargingService, hotspot: HotspotService | None,
                 config: PaymentsConfig, *, currency: str, voucher_length: int = 10,
                 daraja: PromptProvider | None = None, notifier: Notifier | None = None) -> None:
        self.store, self.charging, self.hotspot, self.config = store, charging, hotspot, config
        self.currency, self.voucher_length = currency, voucher_length
        self.digits = MINOR_UNITS[currency]
        self.daraja = daraja
        self.notifier: Notifier = notifier or NullNotifier()
        self._queue: asyncio.Queue[tuple[str, Any, int]] = asyncio.Queue()
        self._worker: asyncio.Task[None] | None = None
        self.watchers = Watchers(store)

    # --- life ---------------------------------------------------------------------------------------------------
    def start(self) -> None:
        if self._worker is None:
            self._worker = asyncio.create_task(self._work(), name="payments-worker")

    async def stop(self) -> None:
        """Finish what is queued (bounded), then stop; anything left is found again by reconcile."""
        if self._worker is not None:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._queue.join(), 5.0)
            self._worker.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._worker
            self._worker = None
        await self.watchers.close()
        if self.daraja is not None:
            await self.daraja.close()
        await self.notifier.close()

    # --- initiation ---------------------------------------------------------------------------------------------
    async def _price(self, purchase: Purchase) -> int | None:
        try:
            if purchase.purpose == "bundle":
                bundle = await self.charging.bundle(purchase.item)
                if bundle.currency != self.currency:
                    raise PaymentRefused(f"bundle {purchase.item} is priced in {bundle.currency}")
                return bundle.price
            if purchase.purpose == "hotspot":
                if self.hotspot is None:
                    raise PaymentRefused("hotspot packages are not available")
                return (await self.hotspot.package(purchase.item)).price
        except ChargingError as e:
            raise PaymentRefused(str(e)) from e
        except ValueError as e:  # UnknownPackage (an InvalidPackage)
            raise PaymentRefused(str(e)) from e
        return None

    async def _account(self, account: str | None, msisdn: str | None) -> str:
        try:
            if account is not None:
                return (await self.charging.account(account)).account
            if msisdn is not None:
                candidates = [msisdn]
                with contextlib.suppress(ValueError):  # as provisioned, or its 2547... form
                    candidates.append(mpesa.normalize_phone(msisdn))
                for candidate in dict.fromkeys(candidates):
                    with contextlib.suppress(ChargingError):
                        return await self.charging.account_of_msisdn(candidate)
                raise PaymentRefused(f"no such account: no SIM has the MSISDN {msisdn}")
        except ChargingError as e:
            raise PaymentRefused(f"no such account: {e}") from e
        raise PaymentRefused("a top-up or a bundle needs the account (account or msisdn)")

    async def resolve_account(self, reference: str) -> str | None:
        """The account a C2B BillRefNumber or a webhook's account reference names: an MSISDN (as provisioned, or
        its 2547... form), an account id, or a hotspot voucher code; None when it names nothing."""
        reference = reference.strip()
        if not reference or len(reference) > 64:
            return None
        candidates = [reference]
        with contextlib.suppress(ValueError):
            candidates.append(mpesa.normalize_phone(reference))
        for msisdn in dict.fromkeys(candidates):
            with contextlib.suppress(ChargingError):
                return await self.charging.account_of_msisdn(msisdn)
        with contextlib.suppress(ChargingError, ValueError):
            return (await self.charging.account(reference)).account
        if self.hotspot is not None:
            return await self.hotspot.redis.account_of("voucher", reference)
        return None

    async def stk_push(self, *, phone: str, purchase: Purchase, amount: int | None = None,
                       account: str | None = None, mac: str = "", created_by: str = "") -> Payment:
        """Ask the customer's phone for the payment; the pending payment (answer at once, money on callback)."""
        if self.daraja is None:
            raise PaymentRefused("M-Pesa is not configured ([payments.mpesa])", 503)
        raw_phone = phone
        try:
            phone = mpesa.normalize_phone(phone)
        except ValueError as e:
            raise PaymentRefused(str(e)) from e
        price = await self._price(purchase)
        if amount is None:
            amount = price
        if amount is None or amount <= 0:
            raise PaymentRefused("amount: required and positive for a top-up")
        if price is not None and amount != price:
            raise PaymentRefused(f"amount: {purchase.purpose} {purchase.item} costs "
                                 f"{format_major(price, self.currency)} {self.currency}")
        if amount % 10 ** self.digits:  # Daraja: "Only whole numbers are supported" (M-Pesa Express, Amount)
            raise PaymentRefused("amount: M-Pesa takes whole amounts only")
        account_id = None
        if purchase.purpose == "hotspot":
            if not mac:
                raise PaymentRefused("mac: a hotspot package is bound to the device's MAC")
            mac = normalize_mac(mac)
        else:
            account_id = await self._account(account, raw_phone)  # the paying phone's own account by default
        payment_id = new_payment_id()
        await self.store.create(id=payment_id, provider="mpesa-stk", network="mpesa", ref=f"mpesa-stk:{payment_id}",
                                amount=amount, currency=self.currency, phone=phone, purpose=purchase.purpose,
                                item=purchase.item, account_id=account_id, mac=mac, status="pending",
                                created_by=created_by)
        try:
            accepted = await self.daraja.stk_push(phone, amount // 10 ** self.digits,
                                                  purchase.item or purchase.purpose)
        except DarajaError as e:
            await self.store.finish(payment_id, "failed", e.code or "push-refused", str(e))
            payments_total.inc(("mpesa-stk", "refused"))
            raise PaymentRefused(str(e), 503 if e.retryable else 502) from e
        async with self.store.pool.acquire() as conn:
            await conn.execute("UPDATE payments SET checkout_request_id = $2, merchant_request_id = $3, "
                               "updated_at = now() WHERE id = $1", payment_id, accepted.checkout_request_id,
                               accepted.merchant_request_id)
        log.info("stk-push-sent", payment=payment_id, purpose=purchase.purpose, item=purchase.item, amount=amount)
        found = await self.store.get(payment_id)
        assert found is not None
        self._publish(found)
        return found

    # --- notices ------------------------------------------------------------------------------------------------
    def submit_stk(self, result: mpesa.StkResult) -> None:
        self._queue.put_nowait(("stk", result, 0))

    def submit_apply(self, payment_id: str) -> None:
        self._queue.put_nowait(("apply", payment_id, 0))

    def _later(self, delay: float, item: tuple[str, Any, int]) -> None:
        """Queue `item` again after `delay` seconds (a timer: the worker never sleeps on one notice)."""
        asyncio.get_running_loop().call_later(delay, self._queue.put_nowait, item)

    async def _work(self) -> None:
        while True:
            kind, item, attempt = await self._queue.get()
            try:
                if kind == "stk":
                    outcome, payment_id = await self.handle_stk(
                        item, final_try=attempt >= len(UNKNOWN_CHECKOUT_RETRIES))
                    if outcome == "retry":
                        self._later(UNKNOWN_CHECKOUT_RETRIES[attempt], ("stk", item, attempt + 1))
                    elif outcome == "confirmed":
                        self._queue.put_nowait(("apply", payment_id, 0))
                else:
                    p = await self.apply(item) if kind == "apply" else None
                    if p is not None and p.status == "confirmed" and attempt + 1 < self.config.apply_retries:
                        self._later(0.5 * 2 ** attempt, ("apply", item, attempt + 1))
            except Exception as e:  # a store down: the payment stays in PostgreSQL for reconcile
                log.warning("payment-work-failed", kind=kind, error=str(e), error_type=type(e).__name__)
            finally:
                self._queue.task_done()

    async def handle_stk(self, result: mpesa.StkResult, *, final_try: bool = True) -> tuple[str, str | None]:
        """Match an STK result (callback) with its pending payment and move it on; returns what happened and the
        payment's id:
        "retry" (no such CheckoutRequestID yet: the callback may have overtaken the row update of its own push),
        "unknown", "duplicate", "failed", "mismatch" or "confirmed" (then to be applied)."""
        p = await self.store.by_checkout(result.checkout_request_id)
        if p is None:
            if not final_try:
                return "retry", None
            log.warning("stk-callback-unknown", checkout=result.checkout_request_id, code=result.result_code)
            payments_total.inc(("mpesa-stk", "unknown"))
            return "unknown", None
        if p.status != "pending":
            log.info("stk-callback-duplicate", payment=p.id, status=p.status)
            return "duplicate", p.id
        if not result.paid:
            return await self._finish(p, "failed", result.result_code, result.result_desc), p.id
        problem = self._check(p, result)
        if problem:
            return await self._finish(p, "mismatch", result.result_code, problem, receipt=result.receipt), p.id
        try:
            confirmed = await self.store.confirm(p.id, result.receipt, result.result_code, result.result_desc)
        except DuplicateReceipt:
            return await self._finish(p, "mismatch", result.result_code,
                                      f"receipt {result.receipt} already recorded on another payment"), p.id
        if confirmed is None:
            return "duplicate", p.id
        self._publish(confirmed)
        return "confirmed", p.id

    def _check(self, p: Payment, result: mpesa.StkResult) -> str:
        """Why a paid callback does not match the pending payment ("" when it does)."""
        if result.amount is None or result.receipt is None:
            return "paid callback without Amount or MpesaReceiptNumber"
        try:
            paid = mpesa.amount_minor(result.amount, self.digits)
        except mpesa.CallbackError as e:
            return str(e)
        if paid != p.amount:
            return (f"amount {format_major(paid, self.currency)} differs from the "
                    f"{format_major(p.amount, self.currency)} asked")
        if result.phone is not None and not mpesa.same_phone(result.phone, p.phone):
            return "the paying phone differs from the phone asked"
        return ""

    async def _finish(self, p: Payment, status: str, code: str, desc: str, *, receipt: str | None = None) -> str:
        done = await self.store.finish(p.id, status, code, desc, receipt=receipt)
        if done is None:
            return "duplicate"
        log.info("payment-" + status, payment=p.id, code=code, desc=desc)
        payments_total.inc((p.provider, status))
        self._publish(done)
        return status

    async def apply(self, payment_id: str) -> Payment | None:
        """One attempt at applying a confirmed payment; the row after it (still confirmed when the attempt
        failed: the worker tries again `apply_retries` times, then the reconcile job), None if unknown."""
        p = await self.store.get(payment_id)
        if p is None or p.status != "confirmed":
            return p
        try:
            done = await apply_payment(p, self.charging, self.hotspot, currency=self.currency,
                                       voucher_length=self.voucher_length)
        except Exception as e:  # store down, or a bug: recorded on the row, retried, then left to reconcile
            log.warning("payment-apply-failed", payment=p.id, attempts=p.attempts + 1, error=str(e),
                        error_type=type(e).__name__)
            await self.store.apply_failed(p.id, f"{type(e).__name__}: {e}")
            return await self.store.get(payment_id)
        await self.store.set_account(p.id, done.account, done.voucher)
        if done.note:
            await self.store.apply_failed(p.id, done.note)
        applied = await self.store.applied(p.id)
        if applied is not None:
            payments_total.inc((p.provider, "applied"))
            log.info("payment-applied", payment=p.id, provider=p.provider, purpose=p.purpose, amount=p.amount)
            self._publish(applied)
            await self._notify_applied(applied)
        return applied or await self.store.get(payment_id)

    async def _notify_applied(self, p: Payment) -> None:
        async with self.store.pool.acquire() as conn:
            first = await conn.fetchval("INSERT INTO notifications_sent (kind, key, account_id) VALUES "
                                        "('payment.applied', $1, $2) ON CONFLICT DO NOTHING RETURNING key",
                                        p.id, p.account_id or "")
        if first is not None:
            await self.notifier.notify("payment.applied", {
                "payment": p.id, "phone": p.phone, "amount": p.amount, "currency": p.currency,
                "amount_text": format_major(p.amount, p.currency), "for": p.json()["for"],
                "account": p.account_id, "voucher": p.voucher, "receipt": p.receipt})

    # --- reconcile ----------------------------------------------------------------------------------------------
    async def reconcile(self) -> int:
        """Apply confirmed payments and resolve STK pushes whose callback never came; how many changed."""
        confirmed, pending = await self.store.due(query_after=self.config.query_after)
        changed = 0
        for p in confirmed:
            after = await self.apply(p.id)
            changed += after is not None and after.status == "applied"
        for p in pending:
            if p.checkout_request_id is None:  # the push's answer never reached us: no payment to ask about
                changed += await self._finish(p, "failed", "push-unknown", "the payment request was not confirmed "
                                              "sent to M-Pesa") == "failed"
                continue
            if self.daraja is None:
                continue
            try:
                status = await self.daraja.stk_query(p.checkout_request_id)
            except DarajaError as e:
                log.warning("stk-query-failed", payment=p.id, error=str(e))
                status = StkStatus(None, str(e))
            if status.result_code is None:
                if await self.store.age_seconds(p) > self.config.give_up_after:
                    changed += await self._finish(p, "failed", "timeout", "no answer from M-Pesa") == "failed"
                continue
            if status.result_code != "0":
                changed += await self._finish(p, "failed", status.result_code, status.result_desc) == "failed"
                continue
            # Paid, says the query (it carries no receipt nor amount: the amount is the one we asked for).
            confirmed_row = await self.store.confirm(p.id, None, status.result_code, status.result_desc)
            if confirmed_row is not None:
                self._publish(confirmed_row)
                after = await self.apply(p.id)
                changed += after is not None and after.status == "applied"
        return changed

    # --- watchers -----------------------------------------------------------------------------------------------
    def _publish(self, p: Payment) -> None:
        self.watchers.publish(p)

    def watch(self, payment_id: str) -> contextlib.AbstractAsyncContextManager[asyncio.Queue[Payment]]:
        """A queue receiving the payment's row at every change (ocs.payments.watch)."""
        return self.watchers.watch(payment_id)


__all__ = ["FINAL", "PaymentRefused", "PaymentService", "Purchase", "UnknownAccount", "normalize_mac"]
