"""M-Pesa Daraja messages read tolerantly (PEERS.md, Daraja "M-Pesa Express" and "C2B" docs)."""

from __future__ import annotations

import base64
from datetime import datetime
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocs.payments import mpesa

PAID = {"Body": {"stkCallback": {
    "MerchantRequestID": "29115-34620561-1", "CheckoutRequestID": "ws_CO_191220191020363925",
    "ResultCode": 0, "ResultDesc": "The service request is processed successfully.",
    "CallbackMetadata": {"Item": [
        {"Name": "Amount", "Value": 1.00}, {"Name": "MpesaReceiptNumber", "Value": "NLJ7RT61SV"},
        {"Name": "Balance"}, {"Name": "TransactionDate", "Value": 20191219102115},
        {"Name": "PhoneNumber", "Value": 254708374149}]}}}}


def test_the_documented_paid_callback():
    r = mpesa.parse_stk_callback(PAID)
    assert r.paid and r.checkout_request_id == "ws_CO_191220191020363925"
    assert (r.amount, r.receipt, r.transaction_date, r.phone) == (Decimal("1.0"), "NLJ7RT61SV", "20191219102115",
                                                                  "254708374149")


@pytest.mark.parametrize("code", [0, "0", 0.0, " 0 "])
def test_result_code_number_or_string(code: object):
    body = {"Body": {"stkCallback": {**PAID["Body"]["stkCallback"], "ResultCode": code}}}
    assert mpesa.parse_stk_callback(body).paid


def test_cancelled_callback_has_no_metadata():
    r = mpesa.parse_stk_callback({"Body": {"stkCallback": {"MerchantRequestID": "1", "CheckoutRequestID": "ws_1",
                                                           "ResultCode": "1032",
                                                           "ResultDesc": "Request cancelled by user"}}})
    assert not r.paid and r.result_code == "1032" and r.amount is None and r.receipt is None
    assert "cancelled" in mpesa.customer_message(r.result_code)


@given(st.permutations(PAID["Body"]["stkCallback"]["CallbackMetadata"]["Item"]))
def test_items_in_any_order(items: list[dict]):
    cb = {**PAID["Body"]["stkCallback"], "CallbackMetadata": {"Item": [*items, {"Name": "Extra", "Value": "x"}]}}
    assert mpesa.parse_stk_callback({"Body": {"stkCallback": cb}}) == mpesa.parse_stk_callback(PAID)


@pytest.mark.parametrize("body", [None, {}, {"Body": {}}, {"Body": {"stkCallback": []}},
                                  {"Body": {"stkCallback": {"ResultCode": 0}}},
                                  {"Body": {"stkCallback": {"CheckoutRequestID": "x", "ResultCode": None}}},
                                  {"Body": {"stkCallback": {"CheckoutRequestID": "x", "ResultCode": True}}}])
def test_unreadable_callbacks(body: object):
    with pytest.raises(mpesa.CallbackError):
        mpesa.parse_stk_callback(body)


def test_password_and_timestamp():
    ts = mpesa.timestamp(datetime(2026, 1, 2, 3, 4, 5))
    assert ts == "20260102030405"
    assert base64.b64decode(mpesa.stk_password("174379", "pk", ts)) == b"174379pk20260102030405"


@pytest.mark.parametrize(("given", "want"), [("0712345678", "254712345678"), ("+254 712 345 678", "254712345678"),
                                             ("254112345678", "254112345678"), ("712345678", "254712345678")])
def test_phone_numbers(given: str, want: str):
    assert mpesa.normalize_phone(given) == want


@pytest.mark.parametrize("bad", ["255712345678", "071234567", "abc", "", "2547123456789"])
def test_bad_phone_numbers(bad: str):
    with pytest.raises(ValueError):
        mpesa.normalize_phone(bad)


def test_c2b_notice_and_amounts():
    n = mpesa.parse_c2b({"TransID": "RKTQDM7W6S", "TransAmount": "10.00", "BillRefNumber": " acc-1 ",
                         "MSISDN": "2547*****149", "TransactionType": "Pay Bill"})
    assert (n.trans_id, n.amount, n.bill_ref) == ("RKTQDM7W6S", Decimal("10.00"), "acc-1")
    assert mpesa.amount_minor(n.amount, 2) == 1000
    with pytest.raises(mpesa.CallbackError):
        mpesa.amount_minor(Decimal("1.005"), 2)
    for bad in ({"TransAmount": "1"}, {"TransID": "X"}, {"TransID": "X", "TransAmount": "-1"},
                {"TransID": "X", "TransAmount": "ten"}):
        with pytest.raises(mpesa.CallbackError):
            mpesa.parse_c2b(bad)


@pytest.mark.parametrize(("reported", "same"), [
    ("254712345678", True), ("0712345678", True), ("254712345679", False), ("2547*****678", True),
    ("2547*****679", False), ("************", False), ("2547****678", False), ("garbage", False)])
def test_same_phone_tolerates_masked_numbers(reported: str, same: bool):
    assert mpesa.same_phone(reported, "254712345678") is same
