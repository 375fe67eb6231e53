"""/api/v1/accounts, /bundles, /tariffs and the ledger over HTTP: the same ChargingService as the CLI (issue 16
point 1). Money is an integer in minor units beside the account's currency. Money POSTs take an
Idempotency-Key (ocs.admin.idempotency)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Annotated, Any

from fastapi import FastAPI, Header, Path, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ocs.admin.auth import Reader, Writer
from ocs.admin.idempotency import Idempotency, ref_for
from ocs.admin.problems import ApiError, problem_responses
from ocs.charging.currencies import check_currency
from ocs.charging.model import AccountView, ActiveBundle, check_account_id
from ocs.services.charging import ChargingService

INT64 = 2**63 - 1
AccountId = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]
AccountPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
IdemKey = Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)]


class AccountIn(BaseModel):
    account: AccountId | None = None
    currency: str | None = Field(default=None, pattern="^[A-Z]{3}$")


class AccountCreated(BaseModel):
    account: str
    currency: str


class BundleOut(BaseModel):
    bundle: str
    priority: int
    expires_at: str
    data_octets: int
    voice_seconds: int
    sms: int
    roaming_data_octets: int


class AccountOut(BaseModel):
    account: str
    currency: str
    balance: int
    held: int
    bundles: list[BundleOut]


class MoneyIn(BaseModel):
    amount: int = Field(gt=0, le=INT64, description="minor units")
    ref: str | None = Field(default=None, min_length=1, max_length=128)


class CorrectionIn(BaseModel):
    amount: int = Field(ge=-INT64, le=INT64, description="minor units; adjust: > 0 credit, < 0 debit")
    reason: str = Field(min_length=1, max_length=500)
    ref: str | None = Field(default=None, min_length=1, max_length=128)


class MoneyOut(BaseModel):
    account: str
    kind: str
    amount: int
    currency: str
    ref: str
    entry_id: str
    balance: int
    duplicate: bool


class PurchaseIn(BaseModel):
    bundle: str = Field(min_length=1, max_length=64)
    ref: str | None = Field(default=None, min_length=1, max_length=128)


class PurchaseOut(BaseModel):
    account: str
    bundle: str
    ref: str
    entry_id: str
    bundle_id: int
    balance: int
    duplicate: bool


class LedgerOut(BaseModel):
    entry_id: str
    seq: int
    kind: str
    amount: int
    balance_after: int
    ref: str
    created_at: str
    detail: dict[str, Any]


class CatalogBundle(BaseModel):
    code: str
    name: str
    kind: str
    price: int
    currency: str
    validity_days: int
    priority: int
    data_octets: int
    voice_seconds: int
    sms: int
    roaming_data_octets: int


class TariffOut(BaseModel):
    rating_group: int
    unit: str
    unit_size: int
    price_home: int
    price_roaming: int
    currency: str


def _iso(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def _bundle(b: ActiveBundle) -> BundleOut:
    r = b.remaining
    return BundleOut(bundle=b.code, priority=b.priority, expires_at=_iso(b.expires_at), data_octets=r.data_octets,
                     voice_seconds=r.voice_seconds, sms=r.sms_count, roaming_data_octets=r.roaming_data_octets)


def _account(v: AccountView) -> AccountOut:
    return AccountOut(account=v.account, currency=v.currency, balance=v.balance, held=v.held,
                      bundles=[_bundle(b) for b in v.bundles])


MONEY_ERRORS = problem_responses(404, 409, 422)


async def answer_text(idem: Idempotency, who: str, key: str | None, fingerprint: Callable[[], Awaitable[bytes]],
                      answer: Callable[[], Awaitable[dict[str, Any]]]) -> str:
    """The answer of a money POST as JSON text: with an Idempotency-Key the first answer for the key (its stored
    text, sent as is), else `answer()`. The route's `response_model` documents the schema; the dict is built
    by the route from the service's result, so it is not validated a second time."""
    if key is None:
        return json.dumps(await answer(), separators=(",", ":"))
    return await idem.run(who, key, await fingerprint(), answer)


async def once(idem: Idempotency, request: Request, who: str, key: str | None,
               answer: Callable[[], Awaitable[dict[str, Any]]]) -> Response:
    async def fingerprint() -> bytes:
        return request.method.encode() + b" " + request.scope["path"].encode() + b"\n" + await request.body()

    return Response(await answer_text(idem, who, key, fingerprint, answer), media_type="application/json")


async def money_text(charging: ChargingService, idem: Idempotency, kind: str, account: str, amount: int,
                     key: str | None, ref: str | None, reason: str, who: str,
                     fingerprint: Callable[[], Awaitable[bytes]]) -> str:
    """Top-up, adjust or refund, idempotent by key or ref: the answer's JSON text (MoneyOut)."""
    effective = ref_for(key, ref)
    store = charging.store

    async def answer() -> dict[str, Any]:
        # the currency read goes out with the money script (one AutoPipeline write, one round trip)
        if kind == "topup":
            operation = charging.top_up(account, amount, effective)
        elif kind == "adjust":
            operation = charging.adjust(account, amount, effective, reason)
        else:
            operation = charging.refund(account, amount, effective, reason)
        currency, result = await asyncio.gather(store.pipeline.call("HGET", store.key(account, "acct"), "cur"),
                                                operation)
        return {"account": account, "kind": kind, "amount": amount, "currency": currency, "ref": effective,
                "entry_id": result.entry_id, "balance": result.balance, "duplicate": result.duplicate}

    return await answer_text(idem, who, key, fingerprint, answer)


def routes(charging: ChargingService, idem: Idempotency, default_currency: str) -> Callable[[FastAPI], None]:

    def add(app: FastAPI) -> None:
        from ocs.admin.fastpath import MoneyFastPath

        app.add_middleware(MoneyFastPath, charging=charging, idem=idem)  # inside the audit (added later)

        @app.post("/api/v1/accounts", status_code=201, tags=["accounts"], responses=problem_responses(409, 422))
        async def create_account(body: AccountIn, _who: Writer) -> AccountCreated:
            """Open an account (balance 0); SIMs join it with `subscriber add --account ID`."""
            currency = body.currency or default_currency
            try:
                check_currency(currency)
                if body.account is not None:
                    check_account_id(body.account)
            except ValueError as e:
                raise ApiError(422, "invalid_request", str(e)) from e
            return AccountCreated(account=await charging.open_account(currency, body.account), currency=currency)

        @app.get("/api/v1/accounts/{account}", tags=["accounts"], responses=problem_responses(404))
        async def show_account(account: AccountPath, _who: Reader) -> AccountOut:
            """Balance, the part held by open sessions, and bundles."""
            return _account(await charging.account(account))

        async def money(request: Request, kind: str, account: str, amount: int, key: str | None, ref: str | None,
                        reason: str, who: str) -> Response:
            async def fingerprint() -> bytes:
                return request.method.encode() + b" " + request.scope["path"].encode() + b"\n" + await request.body()

            return Response(await money_text(charging, idem, kind, account, amount, key, ref, reason, who,
                                             fingerprint), media_type="application/json")

        @app.post("/api/v1/accounts/{account}/topup", tags=["money"], responses=MONEY_ERRORS,
                  response_model=MoneyOut)
        async def top_up(account: AccountPath, body: MoneyIn, request: Request, who: Writer,
                         idempotency_key: IdemKey = None) -> Response:
            """Credit airtime (idempotent by Idempotency-Key, or by `ref`)."""
            return await money(request, "topup", account, body.amount, idempotency_key, body.ref, "", who.name)

        @app.post("/api/v1/accounts/{account}/adjust", tags=["money"], responses=MONEY_ERRORS,
                  response_model=MoneyOut)
        async def adjust(account: AccountPath, body: CorrectionIn, request: Request, who: Writer,
                         idempotency_key: IdemKey = None) -> Response:
            """An operator's correction: a credit (> 0) or a debit (< 0, never below the available balance)."""
            return await money(request, "adjust", account, body.amount, idempotency_key, body.ref, body.reason,
                               who.name)

        @app.post("/api/v1/accounts/{account}/refund", tags=["money"], responses=MONEY_ERRORS,
                  response_model=MoneyOut)
        async def refund(account: AccountPath, body: CorrectionIn, request: Request, who: Writer,
                         idempotency_key: IdemKey = None) -> Response:
            """Give money back (amount > 0) with a reason."""
            return await money(request, "refund", account, body.amount, idempotency_key, body.ref, body.reason,
                               who.name)

        @app.post("/api/v1/accounts/{account}/bundles", tags=["money"], responses=MONEY_ERRORS,
                  response_model=PurchaseOut)
        async def purchase(account: AccountPath, body: PurchaseIn, request: Request, who: Writer,
                           idempotency_key: IdemKey = None) -> Response:
            """Buy a catalog bundle with airtime (debit and activation together, or neither)."""
            effective = ref_for(idempotency_key, body.ref)

            async def answer() -> dict[str, Any]:
                r = await charging.purchase(account, body.bundle, effective)
                return {"account": account, "bundle": body.bundle, "ref": effective, "entry_id": r.entry_id,
                        "bundle_id": r.bundle_id, "balance": r.balance, "duplicate": r.duplicate}

            return await once(idem, request, who.name, idempotency_key, answer)

        @app.get("/api/v1/accounts/{account}/ledger", tags=["ledger"], responses=problem_responses(404, 422))
        async def ledger(account: AccountPath, _who: Reader,
                         limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                         since: Annotated[datetime | None, Query(description="RFC 3339, included")] = None,
                         until: Annotated[datetime | None, Query(description="RFC 3339, excluded")] = None,
                         ) -> list[LedgerOut]:
            """The latest ledger entries of the account, newest first (created in [since, until) if given)."""
            from ocs.admin.api_records import check_times
            from ocs.services.records import account_ledger

            check_times(since, until)
            await charging.account(account)
            return [LedgerOut(entry_id=e.entry_id, seq=e.seq, kind=e.kind, amount=e.amount,
                              balance_after=e.balance_after, ref=e.ref, created_at=_iso(e.created_ms / 1000),
                              detail=dict(e.detail))
                    for e in await account_ledger(charging, account, since=since, until=until, limit=limit)]

        @app.get("/api/v1/bundles", tags=["catalog"])
        async def list_bundles(_who: Reader) -> list[CatalogBundle]:
            """The bundle catalog on sale."""
            return [CatalogBundle(code=b.code, name=b.name, kind=str(b.kind.value), price=b.price,
                                  currency=b.currency, validity_days=b.validity_days, priority=b.priority,
                                  data_octets=b.allowances.data_octets, voice_seconds=b.allowances.voice_seconds,
                                  sms=b.allowances.sms_count, roaming_data_octets=b.allowances.roaming_data_octets)
                    for b in await charging.list_bundles()]

        @app.get("/api/v1/tariffs", tags=["catalog"])
        async def list_tariffs(_who: Reader) -> list[TariffOut]:
            """Prices per rating group."""
            return [TariffOut(rating_group=t.rating_group, unit=str(t.unit.value), unit_size=t.unit_size,
                              price_home=t.price_home, price_roaming=t.price_roaming, currency=t.currency)
                    for t in await charging.list_tariffs()]

    return add


__all__ = ["MoneyIn", "money_text", "once", "routes"]
