"""/api/v1/subscribers and the hotspot packages and vouchers over HTTP: the same services as the CLI
(ocs.services.subscribers, .subscriber_admin, .hotspot; issue 16 point 1). Never K or OPc in an answer."""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from typing import Annotated, Any

from fastapi import FastAPI, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from ocs.admin.auth import Reader, Writer
from ocs.admin.problems import problem_responses
from ocs.charging.errors import UnknownSubscriber
from ocs.charging.model import check_account_id
from ocs.provisioning import SubscriberNotFound, msisdn, new_subscriber
from ocs.services.hotspot import HotspotService
from ocs.services.subscriber_admin import Changes, list_subscribers, update_subscriber
from ocs.services.subscribers import SubscriberService

Who = Annotated[str, Path(pattern=r"^[0-9]{1,15}$", description="IMSI or MSISDN")]
Hex = Annotated[str, Field(min_length=1, max_length=66)]


class SubscriberIn(BaseModel):
    imsi: str = Field(min_length=1, max_length=15)
    msisdn: str = Field(min_length=1, max_length=15)
    k: Hex
    opc: Hex | None = None
    op: Hex | None = None
    amf: str | None = Field(default=None, max_length=6)
    sqn: str | None = Field(default=None, max_length=14)
    apns: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(default=["internet"], max_length=16)
    account: str | None = Field(default=None, min_length=1, max_length=64)


class SubscriberAdded(BaseModel):
    imsi: str
    account: str


class SubscriberRow(BaseModel):
    imsi: str
    msisdn: str
    status: str
    apns: list[str]
    account: str | None


class SubscriberOut(SubscriberRow):
    amf: str
    ambr_ul: int
    ambr_dl: int
    seq_reserved: int
    mme_host: str | None
    purged: bool
    created_at: str


class SubscriberChanges(BaseModel):
    msisdn: str | None = Field(default=None, min_length=1, max_length=15)
    status: str | None = Field(default=None, pattern="^(active|blocked)$")
    apns: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(default=None, min_length=1,
                                                                                  max_length=16)


class Changed(BaseModel):
    imsi: str
    changed: dict[str, Any]


class PackageOut(BaseModel):
    code: str
    name: str
    time_seconds: int
    data_octets: int | None
    rate_limit: str
    validity_hours: int
    devices: int
    price: int


class VouchersIn(BaseModel):
    package: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
    count: int = Field(ge=1, le=10_000)
    bind_mac: bool = False


class Vouchers(BaseModel):
    package: str
    count: int
    codes: list[str]


def routes(subscribers: SubscriberService, hotspot: HotspotService, voucher_length: int,
           currency: str) -> Callable[[FastAPI], None]:
    charging = subscribers.charging

    def add(app: FastAPI) -> None:
        @app.get("/api/v1/subscribers", tags=["subscribers"])
        async def list_(_who: Reader, status: Annotated[str | None, Query(pattern="^(active|blocked)$")] = None,
                        after: Annotated[str | None, Query(max_length=15)] = None,
                        limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> list[SubscriberRow]:
            """One page by IMSI; pass the last IMSI of a page as `after` for the next."""
            return [SubscriberRow(**r) for r in await list_subscribers(charging.pool, status=status, after=after,
                                                                       limit=limit)]

        @app.get("/api/v1/subscribers/{who}", tags=["subscribers"], responses=problem_responses(404))
        async def show(who: Who, _who: Reader) -> SubscriberOut:
            """One subscriber by IMSI or MSISDN."""
            v = (await subscribers.show(who)).as_dict()
            v["apns"] = list(v["apns"])
            return SubscriberOut(**v)

        @app.post("/api/v1/subscribers", status_code=201, tags=["subscribers"],
                  responses=problem_responses(404, 409))
        async def add_(body: SubscriberIn, _who: Writer) -> SubscriberAdded:
            """Provision a subscriber and open its account (or point it at `account`)."""
            s = new_subscriber(imsi_=body.imsi, msisdn_=body.msisdn, k=body.k, opc=body.opc, op=body.op,
                               amf=body.amf, sqn=body.sqn, apns=tuple(body.apns))
            if body.account is not None:
                check_account_id(body.account)
            try:
                account = await subscribers.add(s, body.account)
            except UnknownSubscriber as e:
                raise SubscriberNotFound(f"no account {body.account}") from e
            return SubscriberAdded(imsi=s.imsi, account=account)

        @app.patch("/api/v1/subscribers/{who}", tags=["subscribers"], responses=problem_responses(404, 409))
        async def set_(who: Who, body: SubscriberChanges, _who: Writer) -> Changed:
            """Change MSISDN, status or APNs (audited field by field)."""
            c = Changes(msisdn=msisdn(body.msisdn) if body.msisdn else None, status=body.status,
                        apns=tuple(body.apns) if body.apns else None)
            imsi = (await subscribers.show(who)).imsi
            changed = await update_subscriber(charging.pool, subscribers.sealer, charging, imsi, c)
            return Changed(imsi=imsi, changed=changed)

        @app.delete("/api/v1/subscribers/{who}", status_code=204, tags=["subscribers"],
                    responses=problem_responses(404, 409))
        async def delete(who: Who, _who: Writer, force: bool = False) -> None:
            """Remove a subscriber (its account too when no other SIM uses it; refused while it holds money or
            bundles unless `force`)."""
            await subscribers.delete(who, force=force)

        @app.get("/api/v1/hotspot/packages", tags=["hotspot"])
        async def packages(_who: Reader) -> list[PackageOut]:
            """The hotspot packages."""
            return [PackageOut(code=p.code, name=p.name, time_seconds=p.time_seconds, data_octets=p.data_octets,
                               rate_limit=p.rate_limit, validity_hours=p.validity_hours, devices=p.devices,
                               price=p.price) for p in await hotspot.packages()]

        @app.post("/api/v1/hotspot/vouchers", status_code=201, tags=["hotspot"],
                  responses={**problem_responses(404, 422),
                             201: {"content": {"text/csv": {"schema": {"type": "string"}}},
                                   "description": "the batch (JSON, or CSV with ?format=csv)"}})
        async def vouchers(body: VouchersIn, _who: Writer,
                           format: Annotated[str, Query(pattern="^(json|csv)$")] = "json") -> Any:
            """Generate a batch of vouchers, each with an account holding the package: JSON or a CSV download."""
            codes = await hotspot.generate_vouchers(charging, body.package, body.count, length=voucher_length,
                                                    currency=currency, bind_mac=body.bind_mac)
            if format == "csv":
                out = io.StringIO()
                w = csv.writer(out)
                w.writerow(["code", "package"])
                w.writerows([c, body.package] for c in codes)
                return Response(out.getvalue(), status_code=201, media_type="text/csv",
                                headers={"Content-Disposition": f'attachment; filename="vouchers-{body.package}.csv"'})
            return Vouchers(package=body.package, count=len(codes), codes=codes)

    return add


__all__ = ["routes"]
