"""Signed webhooks of other payment providers (issue 17 point 3): the signature check and the payload reading.

Schemes:
- "hmac-sha256": header `signature_header` = hex HMAC-SHA256(secret, "<timestamp>.<raw body>") and header
  `timestamp_header` = unix seconds within `replay_window` of now (the Stripe/Svix construction: the timestamp is
  signed, so an old message cannot be replayed with a fresh one). "sha256=" before the hex is accepted.
  Body: {"id": transaction id, "amount": major units, "currency", "account": the account reference (MSISDN,
  account id or voucher code), "status": "successful"}.
- "flutterwave": Flutterwave's webhook "verif-hash" header, equal to the secret hash set on its dashboard
  (developer.flutterwave.com/docs/webhooks, "Verifying webhook signatures"); body {"event": "charge.completed",
  "data": {"id", "tx_ref", "amount", "currency", "status": "successful", "customer": {...}, "meta": {...}}}: the
  account reference is data.meta.account, else data.tx_ref. Flutterwave signs no timestamp: a replay is caught
  by the transaction id (each credits exactly once).
Comparisons are constant-time (hmac.compare_digest).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ocs.config.payments import WebhookProviderConfig
from ocs.payments.mpesa import CallbackError, whole_amount


class SignatureError(Exception):
    """Bad, missing or stale signature: answered 401, nothing applied."""


def sign(secret: str, timestamp: int, body: bytes) -> str:
    return hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(provider: WebhookProviderConfig, headers: dict[str, str], body: bytes, now: float) -> None:
    """Raise SignatureError unless `body` carries a valid signature of `provider`; `headers` lower-cased."""
    if provider.scheme == "flutterwave":
        given = headers.get("verif-hash", "")
        if not given or not hmac.compare_digest(given.encode(), provider.secret.encode()):
            raise SignatureError("bad verif-hash")
        return
    given = headers.get(provider.signature_header.lower(), "").strip().removeprefix("sha256=")
    stamp = headers.get(provider.timestamp_header.lower(), "").strip()
    if not given or not stamp.isdigit():
        raise SignatureError("missing signature or timestamp")
    if abs(now - int(stamp)) > provider.replay_window:
        raise SignatureError("timestamp outside the replay window")
    if not hmac.compare_digest(given.lower().encode(), sign(provider.secret, int(stamp), body).encode()):
        raise SignatureError("bad signature")


@dataclass(frozen=True, slots=True)
class WebhookPayment:
    tx_id: str
    amount: Decimal
    currency: str
    account_ref: str
    successful: bool


def parse(provider: WebhookProviderConfig, body: bytes) -> WebhookPayment:
    try:
        doc: Any = json.loads(body)
    except ValueError:
        raise CallbackError("the body is not JSON") from None
    if not isinstance(doc, dict):
        raise CallbackError("the body is not an object")
    if provider.scheme == "flutterwave":
        data = doc.get("data")
        if not isinstance(data, dict):
            raise CallbackError("no data")
        meta = data.get("meta") if isinstance(data.get("meta"), dict) else {}
        tx_id, status = data.get("id"), str(data.get("status", ""))
        account = (meta or {}).get("account") or data.get("tx_ref") or ""
        amount, currency = data.get("amount"), data.get("currency")
        ok = status.lower() == "successful" and str(doc.get("event", "charge.completed")) == "charge.completed"
    else:
        tx_id, status = doc.get("id"), str(doc.get("status", ""))
        account, amount, currency = doc.get("account") or "", doc.get("amount"), doc.get("currency")
        ok = status.lower() in ("successful", "success", "paid", "completed")
    if tx_id in (None, "") or isinstance(tx_id, bool | dict | list):
        raise CallbackError("no transaction id")
    if not isinstance(currency, str) or not currency:
        raise CallbackError("no currency")
    if amount is None:
        raise CallbackError("no amount")
    return WebhookPayment(str(tx_id), whole_amount(amount), currency.upper(), str(account).strip(), ok)


__all__ = ["SignatureError", "WebhookPayment", "parse", "sign", "verify"]
