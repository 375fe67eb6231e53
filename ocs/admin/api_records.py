"""Gifts, the ledger and the session records over HTTP (issue 16 point 1): `POST
/api/v1/accounts/{account}/gifts` (`ocsd bundle gift`, with an Idempotency-Key like every money POST),
`GET /api/v1/ledger` and `GET /api/v1/cdrs` (newest first, keyset-paged by `cursor`, filtered by account and
by time: `since`, `until`, RFC 3339). The services are ChargingService.gift and ocs.services.records."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ocs.admin.api_accounts import MONEY_ERRORS, AccountPath, IdemKey, LedgerOut, once
from ocs.admin.auth import Reader, Writer
from ocs.admin.idempotency import Idempotency, ref_for
from ocs.admin.problems import ApiError, problem_responses
from ocs.charging.model import check_account_id
from ocs.provisioning import msisdn as check_msisdn
from ocs.services.charging import ChargingService
from ocs.services.records import cdr_page, ledger_page

Since = Annotated[datetime | None, Query(description="RFC 3339: from this time (included)")]
Until = Annotated[datetime | None, Query(description="RFC 3339: up to this time (excluded)")]
Limit = Annotated[int, Query(ge=1, le=1000)]
Cursor = Annotated[str | None, Query(max_length=200, description="the `next` of the previous page")]
AccountFilter = Annotated[str | None, Query(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]


def check_times(since: datetime | None, until: datetime | None) -> None:
    for name, t in (("since", since), ("until", until)):
        if t is not None and t.tzinfo is None:
            raise ApiError(422, "invalid_request", f"{name}: an RFC 3339 time with its offset (Z or +hh:mm)")


class GiftIn(BaseModel):
    bundle: str = Field(min_length=1, max_length=64)
    to_account: str | None = Field(default=None, min_length=1, max_length=64)
    to_msisdn: str | None = Field(default=None, min_length=1, max_length=15)
    ref: str | None = Field(default=None, min_length=1, max_length=128, description="the gift id")


class GiftOut(BaseModel):
    gift_id: str
    bundle: str
    sender: str
    recipient: str
    sender_entry: str
    recipient_entry: str
    bundle_id: int
    sender_balance: int
    currency: str


class LedgerRow(LedgerOut):
    """A ledger entry with its account and its event id (the cursor of GET /api/v1/ledger)."""

    event_id: int
    account: str


class LedgerPage(BaseModel):
    items: list[LedgerRow]
    next: str | None


class HotspotRecord(BaseModel):
    user: str
    calling_station_id: str
    framed_ip: str
    input_octets: int
    output_octets: int
    session_time: int


class CdrRow(BaseModel):
    app: str = Field(description="gy (a Gy CDR) or radius (a hotspot session)")
    session: str
    account: str
    imsi: str | None
    msisdn: str | None
    peer: str
    start: str
    stop: str
    cause: str
    usage: list[dict[str, Any]]
    radius: HotspotRecord | None


class CdrPage(BaseModel):
    items: list[CdrRow]
    next: str | None


def routes(charging: ChargingService, idem: Idempotency) -> Callable[[FastAPI], None]:
    pool = charging.pool

    def add(app: FastAPI) -> None:
        @app.post("/api/v1/accounts/{account}/gifts", tags=["money"], responses=MONEY_ERRORS,
                  response_model=GiftOut)
        async def gift(account: AccountPath, body: GiftIn, request: Request, who: Writer,
                       idempotency_key: IdemKey = None) -> Response:
            """Give a bundle (`ocsd bundle gift`): this account pays, the recipient (`to_account` or
            `to_msisdn`, exactly one) gets the bundle. Idempotent by Idempotency-Key, or by `ref` (the gift id)."""
            if (body.to_account is None) == (body.to_msisdn is None):
                raise ApiError(422, "invalid_request", "give the recipient with exactly one of to_account or "
                                                       "to_msisdn")
            gift_id = ref_for(idempotency_key, body.ref)

            async def answer() -> dict[str, Any]:
                if body.to_account is not None:
                    recipient = check_account_id(body.to_account)
                else:
                    assert body.to_msisdn is not None
                    recipient = str(await charging.account_of_msisdn(check_msisdn(body.to_msisdn)))
                r = await charging.gift(account, recipient, body.bundle, gift_id)
                view = await charging.account(account)
                return GiftOut(gift_id=r.gift_id, bundle=body.bundle, sender=account, recipient=recipient,
                               sender_entry=r.sender_entry, recipient_entry=r.recipient_entry,
                               bundle_id=r.bundle_id, sender_balance=view.balance,
                               currency=view.currency).model_dump()

            return await once(idem, request, who.name, idempotency_key, answer)

        @app.get("/api/v1/ledger", tags=["ledger"], responses=problem_responses(422))
        async def ledger(_who: Reader, account: AccountFilter = None, since: Since = None, until: Until = None,
                         cursor: Cursor = None, limit: Limit = 100) -> LedgerPage:
            """Ledger entries of every account (or one), newest first; pass `next` as `cursor` for the next
            page. Entries reach PostgreSQL within seconds (the per-account route also shows those on the way)."""
            check_times(since, until)
            page = await ledger_page(pool, account=account, since=since, until=until, cursor=cursor, limit=limit)
            return LedgerPage(items=[LedgerRow(**i) for i in page.items], next=page.next)

        @app.get("/api/v1/cdrs", tags=["ledger"], responses=problem_responses(422))
        async def cdrs(_who: Reader, account: AccountFilter = None, since: Since = None, until: Until = None,
                       cursor: Cursor = None, limit: Limit = 100) -> CdrPage:
            """Records of ended sessions (Gy CDRs and hotspot sessions), newest start first, filtered by the
            start time; pass `next` as `cursor` for the next page."""
            check_times(since, until)
            page = await cdr_page(pool, account=account, since=since, until=until, cursor=cursor, limit=limit)
            return CdrPage(items=[CdrRow(**i) for i in page.items], next=page.next)

    return add


__all__ = ["check_times", "routes"]
