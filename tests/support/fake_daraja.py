"""A fake M-Pesa Daraja: a real HTTP server on loopback speaking the documented API (OAuth client credentials,
M-Pesa Express STK push and query) that POSTs STK callbacks back to the CallBackURL it was given, like Safaricom.

What the customer does on the phone is chosen per phone number (`scenario[phone]`, default "success"):
- "success": pays; callback ResultCode 0 (a number) with CallbackMetadata (Amount, MpesaReceiptNumber, Balance
  without Value, TransactionDate, PhoneNumber), in a shuffled order
- "string_code": pays; ResultCode "0" as a string
- "cancel": ResultCode 1032 "Request cancelled by user"
- "insufficient": ResultCode 1 "The balance is insufficient for the transaction."
- "wrong_amount": pays one unit less than asked
- "twice": pays; the same callback is sent twice
- "unknown": the callback names a CheckoutRequestID nobody asked for (and nothing else is sent)
- "silent": pays, but the callback never comes; the STK query answers ResultCode 0
The server also records every request (`requests`) and serves a notification sink at POST /notify (`notices`)
and a fake router login URL at POST /login (`logins`), for the captive portal test.
"""

from __future__ import annotations

import base64
import json
import random
import secrets
import threading
import time
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

CONSUMER_KEY, CONSUMER_SECRET = "fake-consumer-key", "fake-consumer-secret"
SHORTCODE, PASSKEY = "174379", "fake-passkey-bfb279f9aa9bdbcf158e97dd71a467cd2e0c893059b10f78e6b72ada1ed2c919"


@dataclass
class FakeDaraja:
    callback_delay: float = 0.3
    scenario: dict[str, str] = field(default_factory=dict)
    requests: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    pushes: dict[str, dict[str, Any]] = field(default_factory=dict)  # CheckoutRequestID -> request + outcome
    notices: list[dict[str, Any]] = field(default_factory=list)
    logins: list[dict[str, str]] = field(default_factory=list)
    tokens: set[str] = field(default_factory=set)
    server: ThreadingHTTPServer | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> FakeDaraja:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_args: Any) -> None:
                pass

            def _reply(self, status: int, body: object, content_type: str = "application/json") -> None:
                data = body if isinstance(body, bytes) else json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                path = urllib.parse.urlsplit(self.path)
                if path.path == "/oauth/v1/generate":
                    fake._record("oauth", {})
                    expected = base64.b64encode(f"{CONSUMER_KEY}:{CONSUMER_SECRET}".encode()).decode()
                    if self.headers.get("Authorization") != f"Basic {expected}" or \
                            urllib.parse.parse_qs(path.query).get("grant_type") != ["client_credentials"]:
                        return self._reply(400, {"errorCode": "400.008.01", "errorMessage": "Invalid Authentication"})
                    token = secrets.token_hex(10)
                    with fake._lock:
                        fake.tokens.add(token)
                    return self._reply(200, {"access_token": token, "expires_in": "3599"})
                self._reply(404, {"errorMessage": "not found"})

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = urllib.parse.urlsplit(self.path).path
                if path == "/notify":
                    fake.notices.append(json.loads(raw))
                    return self._reply(200, {"ok": True})
                if path == "/login":
                    fake.logins.append({k: v[0] for k, v in urllib.parse.parse_qs(raw.decode()).items()})
                    return self._reply(200, b"<html><body><h1 id='logged-in'>You are logged in</h1></body></html>",
                                       "text/html")
                token = (self.headers.get("Authorization") or "").removeprefix("Bearer ")
                if token not in fake.tokens:
                    return self._reply(401, {"errorCode": "404.001.03", "errorMessage": "Invalid Access Token"})
                body = json.loads(raw)
                if path == "/mpesa/stkpush/v1/processrequest":
                    return self._reply(*fake._push(body))
                if path == "/mpesa/stkpushquery/v1/query":
                    return self._reply(*fake._query(body))
                self._reply(404, {"errorMessage": "not found"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()

    def _record(self, kind: str, body: dict[str, Any]) -> None:
        with self._lock:
            self.requests.append((kind, body))

    @staticmethod
    def _password_ok(body: dict[str, Any]) -> bool:
        ts = str(body.get("Timestamp", ""))
        expected = base64.b64encode(f"{SHORTCODE}{PASSKEY}{ts}".encode()).decode()
        return len(ts) == 14 and ts.isdigit() and body.get("Password") == expected

    def _push(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self._record("stk_push", body)
        phone = str(body.get("PhoneNumber", ""))
        if not self._password_ok(body) or body.get("BusinessShortCode") != SHORTCODE:
            return 400, {"errorCode": "400.002.02", "errorMessage": "Bad Request - Invalid Password"}
        if not (len(phone) == 12 and phone.startswith("254")) or not isinstance(body.get("Amount"), int):
            return 400, {"errorCode": "400.002.02", "errorMessage": "Bad Request - Invalid PhoneNumber"}
        merchant, checkout = f"{random.randint(10000, 99999)}-{random.randint(10**6, 10**7)}-1", \
            "ws_CO_" + time.strftime("%d%m%Y%H%M%S") + secrets.token_hex(6)
        scenario = self.scenario.get(phone, "success")
        with self._lock:
            self.pushes[checkout] = {"body": body, "scenario": scenario, "merchant": merchant}
        if scenario != "silent":
            threading.Thread(target=self._call_back, args=(checkout,), daemon=True).start()
        return 200, {"MerchantRequestID": merchant, "CheckoutRequestID": checkout, "ResponseCode": "0",
                     "ResponseDescription": "Success. Request accepted for processing",
                     "CustomerMessage": "Success. Request accepted for processing"}

    def callback_body(self, checkout: str) -> dict[str, Any]:
        push = self.pushes[checkout]
        body, scenario = push["body"], push["scenario"]
        code: object = 0
        desc = "The service request is processed successfully."
        if scenario == "cancel":
            code, desc = 1032, "Request cancelled by user"
        elif scenario == "insufficient":
            code, desc = 1, "The balance is insufficient for the transaction."
        elif scenario == "string_code":
            code = "0"
        cb: dict[str, Any] = {"MerchantRequestID": push["merchant"], "CheckoutRequestID": checkout,
                              "ResultCode": code, "ResultDesc": desc}
        if scenario == "unknown":
            cb["CheckoutRequestID"] = "ws_CO_" + secrets.token_hex(12)
        if code in (0, "0"):
            amount = body["Amount"] - (1 if scenario == "wrong_amount" else 0)
            items = [{"Name": "Amount", "Value": float(amount)},
                     {"Name": "MpesaReceiptNumber", "Value": "T" + secrets.token_hex(4).upper() + "X"},
                     {"Name": "Balance"}, {"Name": "TransactionDate", "Value": int(time.strftime("%Y%m%d%H%M%S"))},
                     {"Name": "PhoneNumber", "Value": int(body["PhoneNumber"])}]
            random.shuffle(items)
            cb["CallbackMetadata"] = {"Item": items}
        push.setdefault("callback", cb)
        return {"Body": {"stkCallback": push["callback"]}}

    def _call_back(self, checkout: str) -> None:
        time.sleep(self.callback_delay)
        push = self.pushes[checkout]
        payload = json.dumps(self.callback_body(checkout)).encode()
        for _ in range(2 if push["scenario"] == "twice" else 1):
            request = urllib.request.Request(push["body"]["CallBackURL"], data=payload, method="POST",
                                             headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(request, timeout=5) as r:
                    push.setdefault("acks", []).append(json.loads(r.read()))
            except OSError as e:  # ocsd stopped (end of a test module) or refused: what Safaricom would log
                push.setdefault("errors", []).append(str(e))

    def _query(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        self._record("stk_query", body)
        if not self._password_ok(body):
            return 400, {"errorCode": "400.002.02", "errorMessage": "Bad Request - Invalid Password"}
        push = self.pushes.get(str(body.get("CheckoutRequestID")))
        if push is None:
            return 500, {"errorCode": "500.001.1001", "errorMessage": "The transaction is being processed"}
        cb = self.callback_body(str(body["CheckoutRequestID"]))["Body"]["stkCallback"]
        return 200, {"ResponseCode": "0", "ResponseDescription": "The service request has been accepted successsfully",
                     "MerchantRequestID": push["merchant"], "CheckoutRequestID": body["CheckoutRequestID"],
                     "ResultCode": str(cb["ResultCode"]), "ResultDesc": cb["ResultDesc"]}


__all__ = ["CONSUMER_KEY", "CONSUMER_SECRET", "PASSKEY", "SHORTCODE", "FakeDaraja"]
