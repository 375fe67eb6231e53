"""Signed webhooks: HMAC-SHA256 over "<timestamp>.<body>" with a replay window; Flutterwave's verif-hash."""

from __future__ import annotations

import json

import pytest

from ocs.config.payments import WebhookProviderConfig
from ocs.payments import mpesa, webhooks

HMAC = WebhookProviderConfig("acme", "s" * 20)
FLW = WebhookProviderConfig("flutterwave", "f" * 20, scheme="flutterwave")
BODY = json.dumps({"id": "t1", "amount": 5, "currency": "kes", "account": "a1", "status": "successful"}).encode()


def headers(ts: int, sig: str) -> dict[str, str]:
    return {"x-timestamp": str(ts), "x-signature": sig}


def test_good_signature_and_sha256_prefix():
    webhooks.verify(HMAC, headers(1000, webhooks.sign(HMAC.secret, 1000, BODY)), BODY, 1000.0)
    webhooks.verify(HMAC, headers(1000, "sha256=" + webhooks.sign(HMAC.secret, 1000, BODY).upper()), BODY, 1200.0)


@pytest.mark.parametrize(("hdrs", "now"), [
    (headers(1000, webhooks.sign("x" * 20, 1000, BODY)), 1000.0),         # another secret
    (headers(1001, webhooks.sign(HMAC.secret, 1000, BODY)), 1000.0),      # timestamp changed
    (headers(1000, webhooks.sign(HMAC.secret, 1000, BODY)), 1301.0),      # replayed after the window
    (headers(1000, webhooks.sign(HMAC.secret, 1000, BODY)), 699.0),       # from the future
    ({"x-signature": webhooks.sign(HMAC.secret, 1000, BODY)}, 1000.0),    # no timestamp
    ({}, 1000.0),
])
def test_bad_signatures(hdrs: dict[str, str], now: float):
    with pytest.raises(webhooks.SignatureError):
        webhooks.verify(HMAC, hdrs, BODY, now)


def test_body_changed_after_signing():
    with pytest.raises(webhooks.SignatureError):
        webhooks.verify(HMAC, headers(1000, webhooks.sign(HMAC.secret, 1000, BODY)), BODY + b" ", 1000.0)


def test_flutterwave_verif_hash():
    webhooks.verify(FLW, {"verif-hash": FLW.secret}, b"{}", 0.0)
    for bad in ({"verif-hash": "nope"}, {}):
        with pytest.raises(webhooks.SignatureError):
            webhooks.verify(FLW, bad, b"{}", 0.0)


def test_payloads():
    w = webhooks.parse(HMAC, BODY)
    assert (w.tx_id, w.currency, w.account_ref, w.successful) == ("t1", "KES", "a1", True)
    flw = {"event": "charge.completed", "data": {"id": 9, "tx_ref": "ref", "amount": 100, "currency": "KES",
                                                 "status": "successful", "meta": {"account": "acc"}}}
    w = webhooks.parse(FLW, json.dumps(flw).encode())
    assert (w.tx_id, w.account_ref, w.successful) == ("9", "acc", True)
    for bad in (b"not json", b"[]", json.dumps({"amount": 1, "currency": "KES"}).encode(),
                json.dumps({"id": "x", "currency": "KES"}).encode()):
        with pytest.raises(mpesa.CallbackError):
            webhooks.parse(HMAC, bad)
