"""Payments over HTTP (issue 17): the provider hooks (public, secured by the secret path token or by the
signature) and the payments API (bearer token).

- POST /hooks/mpesa/<token>/stk: Daraja's STK callback; acknowledged at once ({"ResultCode": 0}), applied by
  the payment worker (ocs.payments.service). A wrong token is 404 and nothing is read.
- POST /hooks/mpesa/<token>/c2b/validation | /confirmation: Daraja C2B (paybill).
- POST /hooks/<provider>: a signed webhook of a `[[payments.webhooks]]` provider: 401 on a bad, missing or stale
  signature (nothing applied), 200 once recorded (a replay of the same transaction id credits nothing).
- POST /api/v1/payments/mpesa/stk (role payments or admin), GET /api/v1/payments[/{id}] (read or payments).
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ocs.admin.api_accounts import IdemKey
from ocs.admin.auth import Principal, need
from ocs.admin.idempotency import Idempotency
from ocs.admin.problems import ApiError, problem_responses
from ocs.metrics import payment_hooks_total
from ocs.payments import mpesa, notices, webhooks
from ocs.payments.service import PaymentRefused, PaymentService, Purchase
from ocs.payments.store import Payment, payment_view

RouteAdder = Callable[[FastAPI], None]
PaymentId = Annotated[str, Path(pattern=r"^pay_[A-Za-z0-9_-]{10,64}$")]
MAX_HOOK_BODY = 64 * 1024


class StkIn(BaseModel):
    msisdn: str = Field(min_length=9, max_length=20, description="the phone to prompt (2547XXXXXXXX)")
    amount: int | None = Field(default=None, gt=0, le=2**53, description="minor units; the price by default")
    for_: str = Field(alias="for", min_length=5, max_length=80, description="topup | bundle:CODE | hotspot:CODE")
    account: str | None = Field(default=None, min_length=1, max_length=64,
                                description="whose top-up or bundle (default: the account of msisdn)")
    mac: str | None = Field(default=None, max_length=32, description="the device of a hotspot package")


class PaymentOut(BaseModel):
    id: str
    provider: str
    status: str
    amount: int
    currency: str
    phone: str
    for_: str = Field(alias="for")
    account_id: str | None
    mac: str
    checkout_request_id: str | None
    merchant_request_id: str | None
    receipt: str | None
    result_code: str
    result_desc: str
    message: str
    voucher: str | None
    last_error: str
    created_at: str
    updated_at: str
    applied_at: str | None


class PaymentList(BaseModel):
    items: list[PaymentOut]
    next: str | None


def payment_out(p: Payment) -> dict[str, Any]:
    return payment_view(p)


async def _reader_or_payments(request: Request) -> Principal:
    try:
        return await need("read")(request)
    except ApiError as e:
        if e.status != 403:
            raise
        return await need("payments")(request)


PaymentsRole = Annotated[Principal, Depends(need("payments"))]
PaymentsReader = Annotated[Principal, Depends(_reader_or_payments)]


async def _json_body(request: Request) -> Any:
    raw = await request.body()
    if len(raw) > MAX_HOOK_BODY:
        raise ApiError(413, "too_large", "the notice is too large")
    try:
        return json.loads(raw)
    except ValueError:
        raise ApiError(400, "bad_json", "the body is not JSON") from None


def routes(service: PaymentService, path_token: str | None,
           providers: dict[str, webhooks.WebhookProviderConfig], idem: Idempotency | None = None) -> RouteAdder:
    def check_token(token: str) -> None:
        if path_token is None or not hmac.compare_digest(token.encode(), path_token.encode()):
            payment_hooks_total.inc(("mpesa", "bad-token"))
            raise ApiError(404, "not_found", "no such hook")

    def add(app: FastAPI) -> None:
        @app.post("/hooks/mpesa/{token}/stk", tags=["hooks"], include_in_schema=False)
        async def stk_callback(token: str, request: Request) -> JSONResponse:
            check_token(token)
            body = await _json_body(request)
            try:
                result = mpesa.parse_stk_callback(body)
            except mpesa.CallbackError as e:
                payment_hooks_total.inc(("mpesa-stk", "unreadable"))
                raise ApiError(400, "bad_callback", str(e)) from None
            service.submit_stk(result)
            payment_hooks_total.inc(("mpesa-stk", "queued"))
            return JSONResponse(mpesa.STK_ACK)

        @app.post("/hooks/mpesa/{token}/c2b/validation", tags=["hooks"], include_in_schema=False)
        async def c2b_validation(token: str, request: Request) -> JSONResponse:
            check_token(token)
            return JSONResponse(await notices.c2b_validation(service, await _json_body(request)))

        @app.post("/hooks/mpesa/{token}/c2b/confirmation", tags=["hooks"], include_in_schema=False)
        async def c2b_confirmation(token: str, request: Request) -> JSONResponse:
            check_token(token)
            try:
                await notices.c2b_confirmation(service, await _json_body(request))
            except mpesa.CallbackError as e:
                payment_hooks_total.inc(("c2b", "unreadable"))
                raise ApiError(400, "bad_notice", str(e)) from None
            return JSONResponse(mpesa.C2B_ACCEPT)

        @app.post("/hooks/{provider}", tags=["hooks"], include_in_schema=False)
        async def provider_hook(provider: str, request: Request) -> JSONResponse:
            config = providers.get(provider)
            if config is None:
                raise ApiError(404, "not_found", "no such hook")
            raw = await request.body()
            if len(raw) > MAX_HOOK_BODY:
                raise ApiError(413, "too_large", "the notice is too large")
            headers = {k.lower(): v for k, v in request.headers.items()}
            try:
                outcome = await notices.signed_webhook(service, config, headers, raw)
            except webhooks.SignatureError as e:
                payment_hooks_total.inc((provider, "bad-signature"))
                raise ApiError(401, "bad_signature", str(e)) from None
            except mpesa.CallbackError as e:
                payment_hooks_total.inc((provider, "unreadable"))
                raise ApiError(400, "bad_notice", str(e)) from None
            return JSONResponse({"status": outcome})

        @app.post("/api/v1/payments/mpesa/stk", tags=["payments"], status_code=202,
                  responses=problem_responses(422, 502, 503))
        async def post_stk(body: StkIn, who: PaymentsRole, key: IdemKey = None) -> PaymentOut:
            """Send an M-Pesa STK push; answers at once with the pending payment (money on the callback). With an
            Idempotency-Key, a repeated request gets the first answer and prompts the phone once."""

            async def push() -> dict[str, Any]:
                try:
                    p = await service.stk_push(phone=body.msisdn, purchase=Purchase.parse(body.for_),
                                               amount=body.amount, account=body.account, mac=body.mac or "",
                                               created_by=who.name)
                except PaymentRefused as e:
                    code = "unprocessable" if e.status == 422 else "provider_unavailable"
                    raise ApiError(e.status, code, str(e)) from None
                return payment_out(p)

            if key is None or idem is None:
                return PaymentOut.model_validate(await push())
            fingerprint = b"POST /api/v1/payments/mpesa/stk " + body.model_dump_json(by_alias=True).encode()
            return PaymentOut.model_validate_json(await idem.run(who.name, key, fingerprint, push))

        @app.get("/api/v1/payments", tags=["payments"])
        async def list_payments(_who: PaymentsReader,
                                status: Annotated[str | None, Query(pattern="^(pending|confirmed|applied|failed|"
                                                                           "mismatch)$")] = None,
                                limit: Annotated[int, Query(ge=1, le=500)] = 50,
                                before: Annotated[str | None, Query(max_length=80)] = None) -> PaymentList:
            """Payments, newest first; `before` = the last id of the previous page."""
            items = await service.store.recent(status=status, limit=limit, before=before)
            return PaymentList(items=[PaymentOut.model_validate(payment_out(p)) for p in items],
                               next=items[-1].id if len(items) == limit else None)

        @app.get("/api/v1/payments/{payment_id}", tags=["payments"], responses=problem_responses(404))
        async def get_payment(payment_id: PaymentId, _who: PaymentsReader) -> PaymentOut:
            p = await service.store.get(payment_id)
            if p is None:
                raise ApiError(404, "not_found", f"no payment {payment_id}")
            return PaymentOut.model_validate(payment_out(p))

    return add


__all__ = ["payment_out", "routes"]
