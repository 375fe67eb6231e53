"""M-Pesa Daraja messages, without I/O: the STK push password, phone numbers, the STK callback and the C2B
notices parsed tolerantly, and what a result code means to a customer.

Sources: Safaricom Daraja API documentation (developer.safaricom.co.ke), "M-Pesa Express" (STK push: request
fields BusinessShortCode, Password = base64(Shortcode + Passkey + Timestamp), Timestamp YYYYMMDDHHMMSS,
TransactionType, Amount (whole units), PartyA, PartyB, PhoneNumber 2547XXXXXXXX, CallBackURL, AccountReference
(<= 12 characters), TransactionDesc; the callback Body.stkCallback {MerchantRequestID, CheckoutRequestID,
ResultCode, ResultDesc, CallbackMetadata.Item[{Name, Value}]}), "M-Pesa Express Query" (ResultCode,
ResultDesc) and "Customer To Business (C2B) Register URL" (validation/confirmation body TransID, TransAmount,
BillRefNumber, MSISDN, ...; the answer {"ResultCode": 0 | "C2B00012", "ResultDesc": ...}).
PEERS.md: ResultCode may come as a number or a string, the Item list varies (read it by Name), no signature is
sent (a secret path token and matching against our own pending request is the practice).
"""

from __future__ import annotations

import base64
import re
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any


class CallbackError(ValueError):
    """A callback or notice that cannot be read (missing fields, wrong types)."""


def timestamp(now: datetime) -> str:
    """Daraja's Timestamp: YYYYMMDDHHMMSS (Kenyan local time on the provider's side; any time is accepted as
    long as the Password is built from the same string)."""
    return now.strftime("%Y%m%d%H%M%S")


def stk_password(shortcode: str, passkey: str, ts: str) -> str:
    """M-Pesa Express: Password = base64(BusinessShortCode + Passkey + Timestamp)."""
    return base64.b64encode(f"{shortcode}{passkey}{ts}".encode()).decode()


_PHONE = re.compile(r"^(?:\+?254|0)?([17]\d{8})$")


def normalize_phone(text: str) -> str:
    """A Kenyan mobile number as Daraja wants it (2547XXXXXXXX or 2541XXXXXXXX) from "07...", "+2547...",
    "2547..." or "7..."; ValueError otherwise."""
    m = _PHONE.fullmatch(re.sub(r"[\s-]", "", str(text)))
    if m is None:
        raise ValueError(f"{text!r} is not a Kenyan mobile number (e.g. 254712345678)")
    return "254" + m.group(1)


def same_phone(reported: str, asked: str) -> bool:
    """Whether the PhoneNumber of a callback is the number we prompted (2547XXXXXXXX). Safaricom masks numbers in
    some notices ("2547******149"): then the visible digits must match, position by position."""
    reported = re.sub(r"[\s-]", "", str(reported))
    if "*" not in reported:
        try:
            return normalize_phone(reported) == asked
        except ValueError:
            return False
    if len(reported) != len(asked) or reported.strip("*") == "":
        return False
    return all(r == "*" or r == a for r, a in zip(reported, asked, strict=True))


def result_code(value: object) -> str:
    """ResultCode as a string whatever JSON type carried it (0, "0", 1032, "1032", "C2B00012")."""
    if isinstance(value, bool) or value is None:
        raise CallbackError(f"ResultCode must be a number or a string, got {value!r}")
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = str(value).strip()
    if not text:
        raise CallbackError("ResultCode is empty")
    return text


def whole_amount(value: object) -> Decimal:
    """An Amount/TransAmount (1, 1.0, "1.00") as a Decimal; CallbackError when it is no number."""
    if isinstance(value, bool):
        raise CallbackError(f"not an amount: {value!r}")
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        raise CallbackError(f"not an amount: {value!r}") from None
    if not amount.is_finite() or amount < 0:
        raise CallbackError(f"not an amount: {value!r}")
    return amount


@dataclass(frozen=True, slots=True)
class StkResult:
    merchant_request_id: str
    checkout_request_id: str
    result_code: str          # "0" = paid
    result_desc: str
    amount: Decimal | None = None        # major units, from CallbackMetadata
    receipt: str | None = None           # MpesaReceiptNumber
    transaction_date: str | None = None  # YYYYMMDDHHMMSS
    phone: str | None = None

    @property
    def paid(self) -> bool:
        return self.result_code == "0"


def parse_stk_callback(body: object) -> StkResult:
    """Body.stkCallback of an STK push result, read tolerantly (PEERS.md): ResultCode number or string,
    CallbackMetadata items by Name in any order, unknown items ignored, a missing Value (e.g. Balance) skipped."""
    try:
        cb = body["Body"]["stkCallback"]  # type: ignore[index]
    except (KeyError, TypeError):
        raise CallbackError("no Body.stkCallback") from None
    if not isinstance(cb, dict):
        raise CallbackError("Body.stkCallback is not an object")
    checkout = cb.get("CheckoutRequestID")
    if not isinstance(checkout, str) or not checkout:
        raise CallbackError("no CheckoutRequestID")
    items: dict[str, Any] = {}
    meta = cb.get("CallbackMetadata")
    if isinstance(meta, dict) and isinstance(meta.get("Item"), list):
        for item in meta["Item"]:
            if isinstance(item, dict) and isinstance(item.get("Name"), str) and "Value" in item:
                items[item["Name"]] = item["Value"]
    amount = whole_amount(items["Amount"]) if "Amount" in items else None
    receipt = items.get("MpesaReceiptNumber")
    phone = items.get("PhoneNumber")
    date = items.get("TransactionDate")
    return StkResult(
        merchant_request_id=str(cb.get("MerchantRequestID") or ""),
        checkout_request_id=checkout,
        result_code=result_code(cb.get("ResultCode")),
        result_desc=str(cb.get("ResultDesc") or ""),
        amount=amount,
        receipt=str(receipt) if receipt not in (None, "") else None,
        transaction_date=str(date) if date is not None else None,
        phone=str(phone) if phone is not None else None,
    )


@dataclass(frozen=True, slots=True)
class C2BNotice:
    trans_id: str
    amount: Decimal
    bill_ref: str
    msisdn: str
    transaction_type: str
    shortcode: str


def parse_c2b(body: object) -> C2BNotice:
    """A C2B validation or confirmation request (both carry the same fields)."""
    if not isinstance(body, dict):
        raise CallbackError("the C2B request is not an object")
    trans_id = body.get("TransID")
    if not isinstance(trans_id, str) or not trans_id:
        raise CallbackError("no TransID")
    if "TransAmount" not in body:
        raise CallbackError("no TransAmount")
    return C2BNotice(trans_id=trans_id, amount=whole_amount(body["TransAmount"]),
                     bill_ref=str(body.get("BillRefNumber") or "").strip(), msisdn=str(body.get("MSISDN") or ""),
                     transaction_type=str(body.get("TransactionType") or ""),
                     shortcode=str(body.get("BusinessShortCode") or ""))


# C2B answers (Daraja "C2B Register URL": result codes of the validation response).
C2B_ACCEPT = {"ResultCode": "0", "ResultDesc": "Accepted"}
C2B_REJECT_ACCOUNT = {"ResultCode": "C2B00012", "ResultDesc": "Rejected: invalid account number"}
C2B_REJECT_AMOUNT = {"ResultCode": "C2B00013", "ResultDesc": "Rejected: invalid amount"}
STK_ACK = {"ResultCode": 0, "ResultDesc": "Accepted"}

# What a customer reads for the STK result codes Daraja documents (M-Pesa Express result codes).
CUSTOMER_MESSAGES = {
    "0": "Paid.",
    "1": "The M-Pesa balance is insufficient for this payment.",
    "1001": "Another M-Pesa transaction is in progress on this phone; try again in a minute.",
    "1019": "The payment request expired before it was approved.",
    "1025": "M-Pesa could not send the prompt; try again.",
    "1032": "The payment was cancelled on the phone.",
    "1037": "The phone could not be reached or the prompt timed out (no PIN entered).",
    "2001": "The M-Pesa PIN was wrong.",
    "9999": "M-Pesa could not send the prompt; try again.",
}


def customer_message(code: str, desc: str = "") -> str:
    return CUSTOMER_MESSAGES.get(code, desc or f"The payment failed (M-Pesa code {code}).")


# STK query answers "still processing" with an error instead of a ResultCode (Daraja error 500.001.1001).
STK_QUERY_PROCESSING = "500.001.1001"


def amount_minor(amount: Decimal, digits: int) -> int:
    """A major-unit amount from M-Pesa in minor units; CallbackError when it has more decimals than the currency."""
    minor = amount * (10 ** digits)
    if minor != minor.to_integral_value():
        raise CallbackError(f"amount {amount} has more than {digits} decimals")
    return int(minor)


__all__ = ["C2B_ACCEPT", "C2B_REJECT_ACCOUNT", "C2B_REJECT_AMOUNT", "STK_ACK", "STK_QUERY_PROCESSING", "C2BNotice",
           "CallbackError", "StkResult", "amount_minor", "customer_message", "normalize_phone", "parse_c2b",
           "parse_stk_callback", "result_code", "same_phone", "stk_password", "timestamp", "whole_amount"]
