"""M-Pesa Daraja end to end (issue 17 points 1, 2): the real daemon, the fake Daraja (a real HTTP server speaking
the documented API and calling back), real Redis and PostgreSQL. Money moves exactly once and never on a
cancelled, mismatched or unknown callback."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from typing import Any

import httpx
import pytest

from tests.e2e.test_admin_api import next_events
from tests.support.fake_daraja import CONSUMER_KEY, CONSUMER_SECRET, PASSKEY
from tests.support.payments_daemon import ADMIN, PATH_TOKEN, Pay, ledger, pay

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
__all__ = ["pay"]

KES = 100  # minor units per shilling


def test_stk_topup_applied_once_with_the_receipt_in_the_ledger_and_a_notification(pay: Pay):
    account = pay.sim("254712000001")
    p = pay.stk("254712000001", "topup", 150 * KES)
    assert p["status"] == "pending" and p["checkout_request_id"].startswith("ws_CO_")
    push = pay.fake.pushes[p["checkout_request_id"]]["body"]
    assert push["Amount"] == 150 and push["PhoneNumber"] == "254712000001"
    assert push["CallBackURL"].endswith(f"/hooks/mpesa/{PATH_TOKEN}/stk")
    done = pay.wait_final(p["id"])
    assert done["status"] == "applied", done
    assert done["receipt"] and done["account_id"] == account
    assert pay.balance(account) == 150 * KES
    topups = [e for e in ledger(pay, account) if e["kind"] == "topup"]
    assert len(topups) == 1 and topups[0]["detail"]["receipt"] == done["receipt"]
    assert pay.fake.pushes[p["checkout_request_id"]]["acks"] == [{"ResultCode": 0, "ResultDesc": "Accepted"}]
    deadline = time.monotonic() + 5
    while not [n for n in pay.fake.notices if n.get("payment") == p["id"]] and time.monotonic() < deadline:
        time.sleep(0.05)
    notice = [n for n in pay.fake.notices if n.get("payment") == p["id"]]
    assert notice and notice[0]["event"] == "payment.applied" and notice[0]["amount"] == 150 * KES
    # the daemon's log names no secret (path token, consumer key/secret, passkey, OAuth token)
    logged = "\n".join(str(line) for line in pay.daemon.lines)
    for secret in (PATH_TOKEN, CONSUMER_KEY, CONSUMER_SECRET, PASSKEY, *pay.fake.tokens):
        assert secret not in logged
    metrics = pay.http.get("/metrics").text
    assert 'ocsd_payments_total{provider="mpesa-stk",status="applied"}' in metrics
    assert 'ocsd_mpesa_requests_total{op="stk_push",status="200"}' in metrics
    assert 'ocsd_payment_hooks_total{hook="mpesa-stk",outcome="queued"}' in metrics
    # the admin event stream carries the payment, once (emitted in the transaction that marks it applied)
    events = asyncio.run(payment_events(pay, account))
    assert [e["data"]["payment"] for e in events] == [p["id"]]
    assert events[0]["data"]["amount"] == 150 * KES and events[0]["data"]["receipt"] == done["receipt"]


async def payment_events(pay: Pay, account: str) -> list[dict[str, Any]]:
    """Every `payment.confirmed` event of `account` so far (replayed from Last-Event-ID 0, then a second's wait
    for any other)."""
    async with httpx.AsyncClient(base_url=pay.base_url, timeout=15) as c:
        params = {"account": account, "type": "payment.confirmed"}
        async with c.stream("GET", "/api/v1/events", headers={**ADMIN, "Last-Event-ID": "0"}, params=params) as r:
            assert r.status_code == 200
            lines = r.aiter_lines()
            events = await next_events(lines, 1)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1):
                    events += await next_events(lines, 1)
            return events


def test_bundle_bought_with_mpesa(pay: Pay):
    account = pay.sim("254712000002")
    p = pay.stk("254712000002", "bundle:d1g")  # the amount is the bundle's price
    assert p["amount"] == 100 * KES
    done = pay.wait_final(p["id"])
    assert done["status"] == "applied", done
    view = pay.http.get(f"/api/v1/accounts/{account}", headers=ADMIN).json()
    assert view["balance"] == 0 and [b["bundle"] for b in view["bundles"]] == ["d1g"]


@pytest.mark.parametrize(("scenario", "status", "code", "words"), [
    ("cancel", "failed", "1032", "cancelled"),
    ("insufficient", "failed", "1", "insufficient"),
    ("wrong_amount", "mismatch", "0", "matched"),
])
def test_unpaid_or_mismatched_callbacks_move_no_money(pay: Pay, scenario: str, status: str, code: str, words: str):
    msisdn = {"cancel": "254712000011", "insufficient": "254712000012", "wrong_amount": "254712000013"}[scenario]
    account = pay.sim(msisdn)
    pay.fake.scenario[msisdn] = scenario
    p = pay.stk(msisdn, "topup", 20 * KES)
    done = pay.wait_final(p["id"])
    assert done["status"] == status and done["result_code"] == code, done
    assert words in done["message"].lower()
    assert pay.balance(account) == 0
    assert ledger(pay, account) == []


def test_result_code_as_a_string_is_paid(pay: Pay):
    account = pay.sim("254712000021")
    pay.fake.scenario["254712000021"] = "string_code"
    done = pay.wait_final(pay.stk("254712000021", "topup", 5 * KES)["id"])
    assert done["status"] == "applied", done
    assert pay.balance(account) == 5 * KES


def test_the_same_callback_twice_credits_once(pay: Pay):
    account = pay.sim("254712000022")
    pay.fake.scenario["254712000022"] = "twice"
    p = pay.stk("254712000022", "topup", 7 * KES)
    done = pay.wait_final(p["id"])
    assert done["status"] == "applied"
    deadline = time.monotonic() + 5
    while len(pay.fake.pushes[p["checkout_request_id"]].get("acks", [])) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert len(pay.fake.pushes[p["checkout_request_id"]]["acks"]) == 2  # both acknowledged
    time.sleep(0.5)  # the second went through the worker too
    assert pay.balance(account) == 7 * KES
    assert len([e for e in ledger(pay, account) if e["kind"] == "topup"]) == 1


def test_unknown_checkout_request_id_changes_nothing_and_reconcile_resolves_the_real_one(pay: Pay):
    account = pay.sim("254712000031")
    pay.fake.scenario["254712000031"] = "unknown"
    p = pay.stk("254712000031", "topup", 9 * KES)
    pay.daemon.wait_for("stk-callback-unknown", 10)
    assert pay.payment(p["id"])["status"] == "pending"
    assert pay.balance(account) == 0
    done = pay.ocsd("payments", "reconcile", "--json")  # STK query: paid
    assert done.returncode == 0, done.stderr
    assert pay.payment(p["id"])["status"] == "applied"
    assert pay.balance(account) == 9 * KES


def test_a_callback_that_never_comes_is_resolved_by_reconcile(pay: Pay):
    account = pay.sim("254712000032")
    pay.fake.scenario["254712000032"] = "silent"
    p = pay.stk("254712000032", "topup", 11 * KES)
    time.sleep(0.8)  # past [payments] query_after
    assert pay.payment(p["id"])["status"] == "pending"
    done = pay.ocsd("payments", "reconcile", "--json")
    assert done.returncode == 0, done.stderr
    assert '"changed": ' in done.stdout
    assert pay.payment(p["id"])["status"] == "applied"
    assert pay.balance(account) == 11 * KES
    queried = {kind for kind, body in pay.fake.requests if body.get("CheckoutRequestID") == p["checkout_request_id"]}
    assert queried == {"stk_query"}
    again = pay.ocsd("payments", "reconcile")
    assert again.returncode == 0 and pay.balance(account) == 11 * KES


def test_wrong_path_token_is_404_and_a_bad_callback_400(pay: Pay):
    r = pay.http.post("/hooks/mpesa/not-the-token-at-all/stk", json={"Body": {}})
    assert r.status_code == 404
    r = pay.http.post(f"/hooks/mpesa/{PATH_TOKEN}/stk", json={"Body": {"stkCallback": {"ResultCode": 0}}})
    assert r.status_code == 400 and r.headers["content-type"].startswith("application/problem+json")


def test_initiation_needs_the_payments_role_and_a_valid_request(pay: Pay):
    pay.sim("254712000081")
    body = {"msisdn": "254712000081", "for": "topup", "amount": 10000}
    assert pay.http.post("/api/v1/payments/mpesa/stk", json=body).status_code == 401
    assert pay.http.post("/api/v1/payments/mpesa/stk", json=body, headers=pay.operator_token).status_code == 403
    for bad, why in (({"for": "bundle:nope"}, "nope"), ({"for": "hotspot:day", "amount": None}, "mac"),
                     ({"amount": 150}, "whole"), ({"msisdn": "255712345678"}, "kenyan"), ({"for": "topupx"}, "for")):
        r = pay.http.post("/api/v1/payments/mpesa/stk", json=body | bad, headers=pay.payments_token)
        assert r.status_code == 422 and why in r.text.lower(), (bad, r.text)
    key = {"Idempotency-Key": "retry-1"} | pay.payments_token
    first = pay.http.post("/api/v1/payments/mpesa/stk", json=body, headers=key)
    again = pay.http.post("/api/v1/payments/mpesa/stk", json=body, headers=key)
    assert first.status_code == again.status_code == 202 and first.json()["id"] == again.json()["id"]
    assert len([b for k, b in pay.fake.requests if k == "stk_push" and b["Amount"] == 100
                and b["PhoneNumber"] == "254712000081"]) == 1  # the phone was prompted once
    other = pay.http.post("/api/v1/payments/mpesa/stk", json=body | {"amount": 20000}, headers=key)
    assert other.status_code == 422
    listed = pay.http.get("/api/v1/payments?limit=1", headers=pay.payments_token)
    assert listed.status_code == 200 and len(listed.json()["items"]) == 1 and listed.json()["next"]
    page2 = pay.http.get(f"/api/v1/payments?limit=500&before={listed.json()['next']}", headers=pay.payments_token)
    assert listed.json()["items"][0]["id"] not in {p["id"] for p in page2.json()["items"]}
    assert pay.http.get("/api/v1/payments", headers=pay.operator_token).status_code == 200  # read: operator too


def test_c2b_paybill_validation_and_confirmation_credit_once_by_trans_id(pay: Pay):
    account = pay.sim("254712000041")
    base = f"/hooks/mpesa/{PATH_TOKEN}/c2b"
    notice = {"TransactionType": "Pay Bill", "TransID": "RKTQDM7W6S", "TransTime": "20261202120000",
              "TransAmount": "250.00", "BusinessShortCode": "600638", "BillRefNumber": "0712000041",
              "InvoiceNumber": "", "OrgAccountBalance": "", "ThirdPartyTransID": "", "MSISDN": "254712000041",
              "FirstName": "JOHN"}
    r = pay.http.post(f"{base}/validation", json=notice | {"BillRefNumber": "no-such-account"})
    assert r.json()["ResultCode"] == "C2B00012"
    r = pay.http.post(f"{base}/validation", json=notice)
    assert r.json() == {"ResultCode": "0", "ResultDesc": "Accepted"}
    r = pay.http.post(f"{base}/validation", json=notice | {"BillRefNumber": account})  # the account id
    assert r.json()["ResultCode"] == "0"
    for _ in range(2):
        r = pay.http.post(f"{base}/confirmation", json=notice)
        assert r.status_code == 200 and r.json()["ResultCode"] == "0"
    deadline = time.monotonic() + 10
    while pay.balance(account) == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)
    assert pay.balance(account) == 250 * KES
    listed = pay.ocsd("payments", "show", "RKTQDM7W6S", "--json")
    assert listed.returncode == 0 and '"status": "applied"' in listed.stdout


def test_cli_stk_list_and_show(pay: Pay):
    account = pay.sim("254712000071")
    done = pay.ocsd("payments", "stk", "--msisdn", "0712000071", "--amount", "40", "--for", "topup", "--json")
    assert done.returncode == 0, done.stderr + done.stdout
    p = json.loads(done.stdout)
    assert p["ok"] and p["status"] == "pending" and p["amount"] == 40 * KES and p["account_id"] == account
    assert pay.wait_final(p["id"])["status"] == "applied"
    assert pay.balance(account) == 40 * KES
    listed = pay.ocsd("payments", "list", "--status", "applied", "--limit", "500")
    assert listed.returncode == 0 and p["id"] in listed.stdout and "40.00 KES" in listed.stdout
    refused = pay.ocsd("payments", "stk", "--msisdn", "0712000071", "--for", "bundle:nope")
    assert refused.returncode == 2 and refused.stderr.startswith("error: ")
    missing = pay.ocsd("payments", "show", "pay_nothing_here_0000")
    assert missing.returncode == 2 and "no payment" in missing.stderr
