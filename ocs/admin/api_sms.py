"""/api/v1/sms: SMS billing over HTTP (issue 18) — the charge the sending side asks for before Jasmin submits,
tariffs, sender ids, dispatches, message records and the accounts' SMS settings; the same SmsService as the
CLI and the Jasmin consumers. Refusals are problem+json: 429 rate_limited with Retry-After (RFC 6585 §4),
403 sender_not_approved, 404 no_sms_tariff / unknown_dispatch / unknown_message, 409 insufficient_funds and
message_conflict, 422 invalid_sms."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import FastAPI, Path, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from ocs.admin.auth import Reader, Writer
from ocs.admin.problems import problem, problem_responses
from ocs.sms import metrics
from ocs.sms.errors import HTTP_STATUS, InvalidSms, RateLimited, SmsError
from ocs.sms.pricing import MCCMNC, PREFIX, SmsTariff
from ocs.sms.service import ChargeRequest, SmsService

AccountId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
AccountPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
INT53 = 2**53 - 1


class ChargeIn(BaseModel):
    account: AccountId
    message_id: str = Field(min_length=1, max_length=128)
    destination: str = Field(min_length=3, max_length=20)
    parts: int = Field(default=1, ge=1, le=255)
    sender_id: str | None = Field(default=None, min_length=1, max_length=15)
    dispatch_id: str | None = Field(default=None, min_length=1, max_length=128)
    mccmnc: str | None = Field(default=None, pattern=r"^[0-9]{5,6}$")


class ChargeOut(BaseModel):
    message_id: str
    price: int
    balance: int
    entry: str
    parts: int
    plan: str
    duplicate: bool


class TariffIn(BaseModel):
    plan: str = Field(min_length=1, max_length=64)
    prefix: str | None = Field(default=None, pattern=r"^[0-9]{1,15}$")
    mccmnc: str | None = Field(default=None, pattern=r"^[0-9]{5,6}$")
    price: int = Field(ge=0, le=INT53, description="minor units per part")
    from_count: int = Field(default=0, ge=0, le=INT53, description="the price applies past this many parts a month")
    currency: str | None = Field(default=None, pattern="^[A-Z]{3}$")


class TariffOut(BaseModel):
    plan: str
    match_kind: str
    match: str
    from_count: int
    price: int
    currency: str


class SenderIn(BaseModel):
    account: AccountId
    sender_id: str = Field(min_length=1, max_length=15)


class SenderOut(BaseModel):
    account: str
    sender_id: str
    status: str
    created_at: str
    decided_at: str | None


class DispatchIn(BaseModel):
    account: AccountId
    name: str = Field(default="", max_length=200)
    dispatch_id: str | None = Field(default=None, min_length=1, max_length=128)


class DispatchOut(BaseModel):
    dispatch_id: str
    account: str
    name: str
    created_at: str
    sent: int
    parts: int
    pending: int
    delivered: int
    failed: int
    cost: int


class SmsAccountIn(BaseModel):
    plan: str | None = Field(default=None, min_length=1, max_length=64)
    refund_on_failure: bool | None = None
    rate_limit: int | None = Field(default=None, ge=0, le=100_000, description="messages per second; 0: none")


class SmsAccountOut(BaseModel):
    account: str
    plan: str
    refund_on_failure: bool
    rate_limit: int | None


def _tariff(t: SmsTariff) -> TariffOut:
    return TariffOut(plan=t.plan, match_kind=t.match_kind, match=t.match, from_count=t.from_count, price=t.price,
                     currency=t.currency)


def routes(sms: SmsService, default_currency: str) -> Callable[[FastAPI], None]:
    def add(app: FastAPI) -> None:
        async def on_sms(_request: Request, exc: Exception) -> JSONResponse:
            assert isinstance(exc, SmsError)
            headers = None
            if isinstance(exc, RateLimited):
                headers = {"Retry-After": str(max(1, math.ceil(exc.retry_after_ms / 1000)))}
            return problem(HTTP_STATUS.get(exc.code, 409), exc.code, exc.detail, headers)

        app.add_exception_handler(SmsError, on_sms)

        @app.post("/api/v1/sms/charge", tags=["sms"], responses=problem_responses(403, 404, 409, 422, 429))
        async def charge(body: ChargeIn, _who: Writer) -> ChargeOut:
            """Charge one message before it is submitted, held against its message_id (exactly once: a repeat
            answers the first charge with duplicate=true). Jasmin's submit_sm_resp finalizes or refunds it."""
            try:
                r = await sms.charge(ChargeRequest(body.account, body.message_id, body.destination, body.parts,
                                                   body.sender_id, body.dispatch_id, body.mccmnc))
            except Exception as e:
                metrics.charges_total.inc(("http", getattr(e, "code", "error")))
                raise
            metrics.charges_total.inc(("http", "duplicate" if r.duplicate else "charged"))
            if not r.duplicate:
                metrics.charged_minor_total.inc((), r.price)
            return ChargeOut(message_id=r.message_id, price=r.price, balance=r.balance, entry=r.entry, parts=r.parts,
                             plan=r.plan, duplicate=r.duplicate)

        @app.get("/api/v1/sms/messages/{message_id}", tags=["sms"], responses=problem_responses(404))
        async def show_message(message_id: Annotated[str, Path(min_length=1, max_length=128)],
                               _who: Reader) -> dict[str, Any]:
            """The message's record: account, destination, parts, price, sender id, submit and delivery state."""
            return await sms.message(message_id)

        @app.get("/api/v1/sms/tariffs", tags=["sms"])
        async def list_tariffs(_who: Reader, plan: Annotated[str | None, Query(max_length=64)] = None
                               ) -> list[TariffOut]:
            """SMS prices by plan and destination prefix or MCC/MNC, with their volume tiers."""
            return [_tariff(t) for t in await sms.list_tariffs(plan)]

        @app.post("/api/v1/sms/tariffs", tags=["sms"], responses=problem_responses(422))
        async def set_tariff(body: TariffIn, _who: Writer) -> TariffOut:
            """Set the price of a prefix (or MCC/MNC) in a plan, from `from_count` parts a month on."""
            if (body.prefix is None) == (body.mccmnc is None):
                raise InvalidSms("give exactly one of prefix and mccmnc")
            kind, match = (PREFIX, body.prefix) if body.prefix is not None else (MCCMNC, body.mccmnc)
            assert match is not None
            return _tariff(await sms.set_tariff(SmsTariff(body.plan, kind, match, body.from_count, body.price,
                                                          body.currency or default_currency)))

        @app.put("/api/v1/sms/accounts/{account}", tags=["sms"], responses=problem_responses(404, 422))
        async def set_account(account: AccountPath, body: SmsAccountIn, _who: Writer) -> SmsAccountOut:
            """The account's SMS plan, refund policy for UNDELIV/REJECTD and rate limit."""
            return SmsAccountOut(**await sms.set_account(account, plan=body.plan,
                                                         refund_on_failure=body.refund_on_failure,
                                                         rate_limit=body.rate_limit))

        @app.post("/api/v1/sms/senders", status_code=201, tags=["sms"], responses=problem_responses(404, 422))
        async def add_sender(body: SenderIn, _who: Writer) -> SenderOut:
            """Register a sender id (alphanumeric, at most 11 characters); it needs approval before use."""
            return SenderOut(**await sms.add_sender(body.account, body.sender_id))

        @app.post("/api/v1/sms/senders/{account}/{sender_id}/{decision}", tags=["sms"],
                  responses=problem_responses(404, 422))
        async def decide_sender(account: AccountPath, sender_id: Annotated[str, Path(min_length=1, max_length=15)],
                                decision: Annotated[str, Path(pattern="^(approve|reject)$")],
                                _who: Writer) -> SenderOut:
            """Approve or reject a sender id."""
            status = "approved" if decision == "approve" else "rejected"
            return SenderOut(**await sms.decide_sender(account, sender_id, status))

        @app.get("/api/v1/sms/senders", tags=["sms"])
        async def list_senders(_who: Reader, account: Annotated[str | None, Query(max_length=64)] = None,
                               status: Annotated[str | None, Query(pattern="^(pending|approved|rejected)$")] = None
                               ) -> list[SenderOut]:
            return [SenderOut(**s) for s in await sms.list_senders(account, status)]

        @app.post("/api/v1/sms/dispatches", status_code=201, tags=["sms"], responses=problem_responses(404, 422))
        async def create_dispatch(body: DispatchIn, _who: Writer) -> DispatchOut:
            """A dispatch groups the messages of one campaign (charge with its dispatch_id)."""
            return DispatchOut(**await sms.create_dispatch(body.account, body.name, body.dispatch_id))

        @app.get("/api/v1/sms/dispatches/{dispatch_id}", tags=["sms"], responses=problem_responses(404))
        async def show_dispatch(dispatch_id: Annotated[str, Path(min_length=1, max_length=128)],
                                _who: Reader) -> DispatchOut:
            """Live counters: sent, parts, pending, delivered, failed, cost (minor units, net of refunds)."""
            return DispatchOut(**await sms.dispatch(dispatch_id))

    return add


__all__ = ["routes"]
