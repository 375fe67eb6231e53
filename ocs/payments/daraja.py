"""The Daraja HTTP client: OAuth token (cached until shortly before it expires), STK push and STK query.

One httpx.AsyncClient is kept open for the daemon's life (connection reuse, timeouts from `[payments.mpesa]
timeout`). Nothing secret is logged: not the consumer key/secret, the passkey, the Password, the token, nor
the callback URL (its path holds the secret token).

Endpoints (Daraja API documentation): GET /oauth/v1/generate?grant_type=client_credentials with HTTP Basic
(consumer key, secret) -> {"access_token", "expires_in" (seconds, a string)}; POST /mpesa/stkpush/v1/processrequest
-> {"MerchantRequestID", "CheckoutRequestID", "ResponseCode" ("0" accepted), "ResponseDescription",
"CustomerMessage"}; POST /mpesa/stkpushquery/v1/query {BusinessShortCode, Password, Timestamp,
CheckoutRequestID} -> {"ResponseCode", "ResultCode", "ResultDesc", ...} or, while the customer has not
answered, an error {"errorCode": "500.001.1001", "errorMessage"}.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import httpx
import structlog

from ocs.config.payments import MpesaConfig
from ocs.metrics import mpesa_requests_total
from ocs.payments.mpesa import STK_QUERY_PROCESSING, result_code, stk_password, timestamp

log = structlog.get_logger("ocs.payments.daraja")

EAT = timezone(timedelta(hours=3))  # Daraja timestamps are Kenyan time (UTC+3)
TOKEN_MARGIN = 60.0  # seconds before expiry a cached token is renewed


class DarajaError(Exception):
    """Daraja refused a request or could not be reached; `retryable` when trying later may help."""

    def __init__(self, message: str, *, retryable: bool = True, code: str = "") -> None:
        super().__init__(message)
        self.retryable = retryable
        self.code = code


@dataclass(frozen=True, slots=True)
class StkAccepted:
    merchant_request_id: str
    checkout_request_id: str
    customer_message: str


@dataclass(frozen=True, slots=True)
class StkStatus:
    """An STK query answer: `result_code` None while the customer has not answered yet."""

    result_code: str | None
    result_desc: str


class DarajaClient:
    def __init__(self, config: MpesaConfig, *, clock: Callable[[], float] = time.monotonic,
                 transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.config = config
        self._clock = clock
        self._http = httpx.AsyncClient(base_url=config.base_url, timeout=config.timeout, transport=transport)
        self._token: str | None = None
        self._token_until = 0.0

    async def close(self) -> None:
        await self._http.aclose()

    def callback_url(self, suffix: str) -> str:
        return f"{self.config.callback_base_url}/hooks/mpesa/{self.config.path_token}/{suffix}"

    async def _call(self, op: str, method: str, path: str, **kw: Any) -> httpx.Response:
        try:
            response = await self._http.request(method, path, **kw)
        except httpx.HTTPError as e:
            mpesa_requests_total.inc((op, "unreachable"))
            log.warning("daraja-unreachable", op=op, error_type=type(e).__name__)
            raise DarajaError(f"Daraja unreachable ({type(e).__name__})") from e
        mpesa_requests_total.inc((op, str(response.status_code)))
        return response

    async def token(self) -> str:
        if self._token is not None and self._clock() < self._token_until:
            return self._token
        c = self.config
        r = await self._call("oauth", "GET", "/oauth/v1/generate", params={"grant_type": "client_credentials"},
                             auth=(c.consumer_key, c.consumer_secret))
        if r.status_code != 200:
            raise DarajaError(f"Daraja OAuth answered {r.status_code}", retryable=r.status_code >= 500)
        try:
            body = r.json()
            token, expires = str(body["access_token"]), float(body.get("expires_in", 3599))
        except (ValueError, KeyError, TypeError):
            raise DarajaError("Daraja OAuth answer unreadable") from None
        self._token, self._token_until = token, self._clock() + max(expires - TOKEN_MARGIN, 1.0)
        return token

    async def _post(self, op: str, path: str, payload: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        headers = {"Authorization": f"Bearer {await self.token()}"}
        r = await self._call(op, "POST", path, json=payload, headers=headers)
        if r.status_code == 401:  # token revoked or expired early: fetch a new one once
            self._token = None
            headers = {"Authorization": f"Bearer {await self.token()}"}
            r = await self._call(op, "POST", path, json=payload, headers=headers)
        try:
            body = r.json()
        except ValueError:
            body = {}
        return r.status_code, body if isinstance(body, dict) else {}

    def _password(self) -> tuple[str, str]:
        ts = timestamp(datetime.now(UTC).astimezone(EAT))
        return stk_password(self.config.shortcode, self.config.passkey, ts), ts

    async def stk_push(self, phone: str, amount: int, description: str) -> StkAccepted:
        """Send the prompt; `amount` in whole major units (Daraja takes whole numbers only)."""
        c = self.config
        password, ts = self._password()
        payload = {
            "BusinessShortCode": c.shortcode, "Password": password, "Timestamp": ts,
            "TransactionType": c.transaction_type, "Amount": amount, "PartyA": phone,
            "PartyB": c.party_b or c.shortcode, "PhoneNumber": phone, "CallBackURL": self.callback_url("stk"),
            "AccountReference": c.account_reference, "TransactionDesc": description[:13] or "payment",
        }
        status, body = await self._post("stk_push", "/mpesa/stkpush/v1/processrequest", payload)
        if status != 200 or str(body.get("ResponseCode", "")) != "0" or not body.get("CheckoutRequestID"):
            message = str(body.get("errorMessage") or body.get("ResponseDescription") or f"HTTP {status}")
            log.warning("stk-push-refused", status=status, code=str(body.get("errorCode", "")), message=message)
            raise DarajaError(f"M-Pesa refused the payment request: {message}", retryable=status >= 500,
                              code=str(body.get("errorCode", "")))
        return StkAccepted(str(body.get("MerchantRequestID", "")), str(body["CheckoutRequestID"]),
                           str(body.get("CustomerMessage", "")))

    async def stk_query(self, checkout_request_id: str) -> StkStatus:
        password, ts = self._password()
        payload = {"BusinessShortCode": self.config.shortcode, "Password": password, "Timestamp": ts,
                   "CheckoutRequestID": checkout_request_id}
        status, body = await self._post("stk_query", "/mpesa/stkpushquery/v1/query", payload)
        if str(body.get("errorCode", "")) == STK_QUERY_PROCESSING:
            return StkStatus(None, str(body.get("errorMessage", "being processed")))
        if status != 200 or "ResultCode" not in body:
            raise DarajaError(f"STK query answered {status}: {body.get('errorMessage', '')}",
                              code=str(body.get("errorCode", "")))
        return StkStatus(result_code(body["ResultCode"]), str(body.get("ResultDesc", "")))


__all__ = ["DarajaClient", "DarajaError", "StkAccepted", "StkStatus"]
