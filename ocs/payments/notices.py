"""Payments the provider tells us about first: M-Pesa C2B (paybill) validation and confirmation, and signed
webhooks of other providers. Each is recorded as confirmed, exactly once by its receipt (C2B TransID, the
provider's transaction id), and applied by the payment worker; the hook answers at once.
"""

from __future__ import annotations

import time
from typing import Any

import asyncpg
import structlog

from ocs.config.payments import WebhookProviderConfig
from ocs.metrics import payment_hooks_total, payments_total
from ocs.payments import mpesa, webhooks
from ocs.payments.service import PaymentService

log = structlog.get_logger("ocs.payments")


async def c2b_validation(service: PaymentService, body: object) -> dict[str, Any]:
    """Daraja C2B validation: accept when BillRefNumber names an account and the amount is whole, else reject
    (the customer's money then never leaves M-Pesa)."""
    try:
        notice = mpesa.parse_c2b(body)
        mpesa.amount_minor(notice.amount, service.digits)
    except mpesa.CallbackError as e:
        payment_hooks_total.inc(("c2b-validation", "unreadable"))
        log.info("c2b-rejected", reason=str(e))
        return mpesa.C2B_REJECT_AMOUNT
    if await service.resolve_account(notice.bill_ref) is None:
        payment_hooks_total.inc(("c2b-validation", "rejected"))
        log.info("c2b-rejected", reason="unknown account", trans_id=notice.trans_id)
        return mpesa.C2B_REJECT_ACCOUNT
    payment_hooks_total.inc(("c2b-validation", "accepted"))
    return mpesa.C2B_ACCEPT


async def c2b_confirmation(service: PaymentService, body: object) -> str:
    """Daraja C2B confirmation: the money is already ours; record it once by TransID and credit the account.
    An unknown account (validation switched off on the shortcode) is recorded as a mismatch for an operator."""
    notice = mpesa.parse_c2b(body)  # CallbackError: the hook answers 400
    amount = mpesa.amount_minor(notice.amount, service.digits)
    account = await service.resolve_account(notice.bill_ref)
    fields = {"provider": "mpesa-c2b", "network": "mpesa", "ref": f"mpesa:{notice.trans_id}",
              "receipt": notice.trans_id, "amount": amount, "currency": service.currency, "phone": notice.msisdn,
              "purpose": "topup", "account_id": account, "result_code": "0",
              "result_desc": f"C2B {notice.transaction_type} BillRefNumber {notice.bill_ref}"[:200]}
    return await _record(service, "c2b", fields, ok=account is not None, why="unknown BillRefNumber")


async def signed_webhook(service: PaymentService, provider: WebhookProviderConfig, headers: dict[str, str],
                         body: bytes) -> str:
    """A provider's signed notice: SignatureError (401) unless signed and fresh; CallbackError (400) when
    unreadable; else recorded once by the provider's transaction id and applied."""
    webhooks.verify(provider, headers, body, time.time())
    w = webhooks.parse(provider, body)
    if not w.successful:
        payment_hooks_total.inc((provider.name, "not-successful"))
        return "ignored"
    account = await service.resolve_account(w.account_ref)
    ok, why = account is not None, "unknown account reference"
    amount = mpesa.amount_minor(w.amount, service.digits)
    if w.currency != service.currency:
        ok, why = False, f"currency {w.currency} is not {service.currency}"
    if amount <= 0:
        raise mpesa.CallbackError("the amount must be positive")
    fields = {"provider": provider.name, "network": provider.name, "ref": f"{provider.name}:{w.tx_id}"[:128],
              "receipt": w.tx_id, "amount": amount, "currency": service.currency, "purpose": "topup",
              "account_id": account, "result_code": "0", "result_desc": f"account reference {w.account_ref}"[:200]}
    return await _record(service, provider.name, fields, ok=ok, why=why)


async def _record(service: PaymentService, hook: str, fields: dict[str, Any], *, ok: bool, why: str) -> str:
    if not ok:
        fields = {**fields, "result_desc": why}
        try:
            await service.store.create(status="mismatch", **fields)
        except asyncpg.UniqueViolationError:
            payment_hooks_total.inc((hook, "duplicate"))
            return "duplicate"
        payment_hooks_total.inc((hook, "mismatch"))
        payments_total.inc((fields["provider"], "mismatch"))
        log.warning("payment-mismatch", provider=fields["provider"], receipt=fields["receipt"], why=why)
        return "mismatch"
    payment, created = await service.store.create_confirmed(**fields)
    if not created:
        payment_hooks_total.inc((hook, "duplicate"))
        log.info("payment-duplicate", provider=fields["provider"], payment=payment.id)
        return "duplicate"
    payment_hooks_total.inc((hook, "accepted"))
    service.submit_apply(payment.id)
    return "accepted"


__all__ = ["c2b_confirmation", "c2b_validation", "signed_webhook"]
