"""Signed webhooks of other providers (issue 17 point 3) against the real daemon: HMAC-SHA256 over the timestamp
and the raw body with a replay window, and Flutterwave's verif-hash (an airtime wallet funded by Flutterwave);
each credits exactly once by the provider's transaction id, a bad signature is 401 and applies nothing."""

from __future__ import annotations

import json
import time

import pytest

from ocs.payments.webhooks import sign
from tests.support.payments_daemon import FLW_HASH, HMAC_SECRET, Pay, pay

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
__all__ = ["pay"]


def wait_balance(pay: Pay, account: str, want: int) -> int:
    deadline = time.monotonic() + 10
    while pay.balance(account) != want and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)  # anything applied twice would show by now
    return pay.balance(account)


def post_signed(pay: Pay, body: bytes, *, ts: int | None = None, secret: str = HMAC_SECRET):
    ts = int(time.time()) if ts is None else ts
    return pay.http.post("/hooks/acme", content=body, headers={
        "Content-Type": "application/json", "X-Timestamp": str(ts), "X-Signature": sign(secret, ts, body)})


def test_hmac_webhook_bad_signature_401_then_good_once_and_replays_refused(pay: Pay):
    account = pay.sim("254712000051")
    body = json.dumps({"id": "acme-tx-1001", "amount": "300", "currency": "KES", "account": "254712000051",
                       "status": "successful"}).encode()
    bad = post_signed(pay, body, secret="not-the-secret-0123456789")
    assert bad.status_code == 401
    assert pay.http.post("/hooks/acme", content=body).status_code == 401  # unsigned
    tampered = post_signed(pay, body)
    ts = int(time.time())
    forged = pay.http.post("/hooks/acme", content=body.replace(b"300", b"900"), headers={
        "X-Timestamp": str(ts), "X-Signature": sign(HMAC_SECRET, ts, body)})
    assert forged.status_code == 401
    assert tampered.status_code == 200 and tampered.json() == {"status": "accepted"}
    assert wait_balance(pay, account, 30000) == 30000
    # the same message replayed inside the window: recorded once, nothing more credited
    again = post_signed(pay, body)
    assert again.status_code == 200 and again.json() == {"status": "duplicate"}
    # an old message (outside the replay window) is refused even with a valid signature
    stale = post_signed(pay, body, ts=int(time.time()) - 3600)
    assert stale.status_code == 401
    assert wait_balance(pay, account, 30000) == 30000
    assert pay.http.post("/hooks/nobody", content=body).status_code == 404


def test_flutterwave_verif_hash_funds_an_airtime_wallet_once(pay: Pay):
    account = pay.sim("254712000052")
    body = json.dumps({"event": "charge.completed", "data": {
        "id": 285959875, "tx_ref": "254712000052", "flw_ref": "FLW-MOCK-1", "amount": 120, "currency": "KES",
        "charged_amount": 120, "status": "successful", "payment_type": "mobilemoneyke",
        "customer": {"id": 215604089, "phone_number": "254712000052", "email": "user@example.com"}}}).encode()
    wrong = pay.http.post("/hooks/flutterwave", content=body, headers={"verif-hash": "nope"})
    assert wrong.status_code == 401
    for _ in range(2):
        r = pay.http.post("/hooks/flutterwave", content=body, headers={"verif-hash": FLW_HASH})
        assert r.status_code == 200
    assert wait_balance(pay, account, 12000) == 12000
    failed = json.dumps({"event": "charge.completed", "data": {
        "id": 285959876, "tx_ref": "254712000052", "amount": 50, "currency": "KES", "status": "failed"}}).encode()
    r = pay.http.post("/hooks/flutterwave", content=failed, headers={"verif-hash": FLW_HASH})
    assert r.status_code == 200 and r.json() == {"status": "ignored"}
    assert wait_balance(pay, account, 12000) == 12000
