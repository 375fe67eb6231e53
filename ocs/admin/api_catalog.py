"""The catalog over HTTP (issue 16 point 1): bundles (create, update, retire), tariffs (set, delete), hotspot
packages (create, update) and Gx plans (list, show, create, update, delete) — the services the CLI calls
(ocs.services.charging, .catalog, .plans, .hotspot). Money is an integer in minor units beside its currency.
Every change is audited twice: the middleware's `api.<METHOD>` row and the service's own row with the change.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import FastAPI, Path
from pydantic import BaseModel, Field

from ocs.admin.api_accounts import INT64, CatalogBundle, TariffOut
from ocs.admin.api_subscribers import PackageOut
from ocs.admin.auth import Reader, Writer
from ocs.admin.problems import ApiError, problem_responses
from ocs.charging.currencies import check_currency
from ocs.charging.model import Allowances, BundleDefinition, BundleKind
from ocs.policy.plans import MAX_BPS, Plan, plan_from, plan_json
from ocs.services.catalog import (
    delete_plan,
    delete_tariff,
    retire_bundle,
    tariff_with_price,
    update_bundle,
    update_package,
    update_plan,
)
from ocs.services.charging import ChargingService
from ocs.services.hotspot import HotspotService
from ocs.services.plans import create_plan, get_plan, list_plans
from ocs.services.subscriber_admin import UnknownPlan
from radius.hotspot import HotspotPackage

INT32 = 2**31 - 1
UNSIGNED32 = 2**32 - 1  # RFC 4006 §8.29 Rating-Group
Code = Annotated[str, Path(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")]
RatingGroup = Annotated[int, Path(ge=0, le=UNSIGNED32)]
Amount = Annotated[int, Field(ge=0, le=INT64, description="minor units")]
Count = Annotated[int, Field(ge=0, le=INT64)]


class BundleIn(BaseModel):
    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")
    name: str = Field(min_length=1, max_length=100)
    kind: str = Field(pattern="^(data|voice|sms|hybrid)$")
    data_octets: Count = 0
    voice_seconds: Count = 0
    sms: Count = 0
    roaming_data_octets: Count = 0
    validity_days: int = Field(ge=1, le=INT32)
    priority: int = Field(ge=0, le=INT32)
    price: Amount
    currency: str | None = Field(default=None, pattern="^[A-Z]{3}$")
    rating_groups: list[Annotated[int, Field(ge=0, le=UNSIGNED32)]] = Field(default=[], max_length=64)


class BundleChanges(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    price: Amount | None = None
    validity_days: int | None = Field(default=None, ge=1, le=INT32)
    priority: int | None = Field(default=None, ge=0, le=INT32)


class Changed(BaseModel):
    code: str
    changed: dict[str, Any]


class TariffIn(BaseModel):
    unit: str = Field(pattern="^(octets|seconds|events)$")
    unit_size: int = Field(ge=1, le=INT64, description="block size: usage is rounded up to a multiple of it")
    price: Amount
    roaming: bool = Field(default=False, description="set the roaming price (the home price must exist)")
    currency: str | None = Field(default=None, pattern="^[A-Z]{3}$")


class TariffSet(TariffOut):
    notes: list[str]


class TariffDeleted(BaseModel):
    rating_group: int
    was: dict[str, Any]


class PackageIn(PackageOut):
    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")
    name: str = Field(min_length=1, max_length=100)
    time_seconds: int = Field(ge=1, le=INT32)
    data_octets: int | None = Field(default=None, ge=1, le=INT64, description="null: unlimited")
    rate_limit: str = Field(min_length=1, max_length=64)
    validity_hours: int = Field(ge=1, le=INT32)
    devices: int = Field(default=1, ge=1, le=10_000)
    price: Amount = 0


class PackageChanges(BaseModel):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    time_seconds: int | None = Field(default=None, ge=1, le=INT32)
    data_octets: int | None = Field(default=None, ge=1, le=INT64)
    rate_limit: str | None = Field(default=None, min_length=1, max_length=64)
    validity_hours: int | None = Field(default=None, ge=1, le=INT32)
    devices: int | None = Field(default=None, ge=1, le=10_000)
    price: Amount | None = None


Bps = Annotated[int, Field(ge=1, le=MAX_BPS)]


class PlanBody(BaseModel):
    """A Gx plan (TS 29.212): APN-AMBR, default bearer QCI/ARP, charging rules (the keys of the rules file,
    conf/gx_rules.example.toml), the throttle once the data runs out, usage monitoring."""

    name: str = Field(min_length=1, max_length=100)
    ambr_ul: Bps
    ambr_dl: Bps
    qci: int = Field(ge=1, le=255)
    arp: int = Field(ge=1, le=15)
    pre_emption_capability: str = Field(default="disabled", pattern="^(enabled|disabled)$")
    pre_emption_vulnerability: str = Field(default="enabled", pattern="^(enabled|disabled)$")
    rules: list[dict[str, Any]] = Field(default=[], max_length=64)
    throttle_ul: Bps | None = None
    throttle_dl: Bps | None = None
    monthly_octets: int | None = Field(default=None, ge=1, le=INT64)
    monitoring_key: str | None = Field(default=None, min_length=1, max_length=64)


class PlanIn(PlanBody):
    code: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


class PlanOut(PlanIn):
    pass


def _plan(code: str, body: PlanBody) -> Plan:
    return plan_from({**body.model_dump(), "code": code})  # PlanError (a ValueError) -> 422


def _catalog(b: BundleDefinition) -> CatalogBundle:
    a = b.allowances
    return CatalogBundle(code=b.code, name=b.name, kind=str(b.kind.value), price=b.price, currency=b.currency,
                         validity_days=b.validity_days, priority=b.priority, data_octets=a.data_octets,
                         voice_seconds=a.voice_seconds, sms=a.sms_count, roaming_data_octets=a.roaming_data_octets)


def _package(p: HotspotPackage) -> PackageOut:
    return PackageOut(code=p.code, name=p.name, time_seconds=p.time_seconds, data_octets=p.data_octets,
                      rate_limit=p.rate_limit, validity_hours=p.validity_hours, devices=p.devices, price=p.price)


def routes(charging: ChargingService, hotspot: HotspotService, default_currency: str) -> Callable[[FastAPI], None]:
    pool = charging.pool

    def currency_of(given: str | None) -> str:
        currency = given or default_currency
        try:
            check_currency(currency)
        except ValueError as e:
            raise ApiError(422, "invalid_currency", str(e)) from e
        return currency

    def add(app: FastAPI) -> None:
        @app.post("/api/v1/bundles", status_code=201, tags=["catalog"], responses=problem_responses(409, 422))
        async def create_bundle(body: BundleIn, _who: Writer) -> CatalogBundle:
            """Add a bundle to the catalog (`ocsd bundle create`; an existing code is refused)."""
            d = BundleDefinition(body.code, body.name, BundleKind(body.kind),
                                 Allowances(body.data_octets, body.voice_seconds, body.sms, body.roaming_data_octets),
                                 body.validity_days, body.priority, body.price, currency_of(body.currency),
                                 tuple(body.rating_groups))
            await charging.create_bundle(d)
            return _catalog(d)

        @app.patch("/api/v1/bundles/{code}", tags=["catalog"], responses=problem_responses(404, 422))
        async def patch_bundle(code: Code, body: BundleChanges, who: Writer) -> Changed:
            """Change a bundle for later purchases (`ocsd bundle update`): name, price, validity, priority."""
            changed = await update_bundle(pool, code, name=body.name, price=body.price,
                                          validity_days=body.validity_days, priority=body.priority, by=who.name)
            await charging.list_bundles()  # this daemon sells at the new terms at once
            return Changed(code=code, changed=changed)

        @app.delete("/api/v1/bundles/{code}", status_code=204, tags=["catalog"], responses=problem_responses(404))
        async def retire(code: Code, who: Writer) -> None:
            """Stop selling a bundle (`ocsd bundle retire`); bundles already bought run their course."""
            await retire_bundle(pool, code, by=who.name)
            await charging.list_bundles()

        @app.put("/api/v1/tariffs/{rating_group}", tags=["catalog"], responses=problem_responses(409, 422))
        async def set_tariff(rating_group: RatingGroup, body: TariffIn, _who: Writer) -> TariffSet:
            """Set the home (or with `roaming`, the roaming) price of a rating group (`ocsd tariff set`)."""
            existing = next((t for t in await charging.list_tariffs() if t.rating_group == rating_group), None)
            new, notes = tariff_with_price(existing, rating_group, body.unit, body.unit_size, body.price,
                                           currency_of(body.currency), roaming=body.roaming)
            await charging.set_tariff(new)
            return TariffSet(rating_group=new.rating_group, unit=new.unit.value, unit_size=new.unit_size,
                             price_home=new.price_home, price_roaming=new.price_roaming, currency=new.currency,
                             notes=notes)

        @app.delete("/api/v1/tariffs/{rating_group}", tags=["catalog"], responses=problem_responses(404))
        async def remove_tariff(rating_group: RatingGroup, who: Writer) -> TariffDeleted:
            """Delete a rating group's tariff (`ocsd tariff delete`): usage in it is then refused as unpriced."""
            was = await delete_tariff(pool, rating_group, by=who.name)
            await charging.list_tariffs()
            return TariffDeleted(rating_group=rating_group, was=was)

        @app.post("/api/v1/hotspot/packages", status_code=201, tags=["hotspot"],
                  responses=problem_responses(409, 422))
        async def create_package(body: PackageIn, _who: Writer) -> PackageOut:
            """Add a hotspot package (`ocsd hotspot package create`; an existing code is refused)."""
            p = HotspotPackage(body.code, body.name, body.time_seconds, body.data_octets, body.rate_limit,
                               body.validity_hours, body.devices, body.price)
            await hotspot.create_package(p)
            return _package(p)

        @app.patch("/api/v1/hotspot/packages/{code}", tags=["hotspot"], responses=problem_responses(404, 422))
        async def patch_package(code: Code, body: PackageChanges, who: Writer) -> Changed:
            """Change a package for later sales; vouchers and purchases already made keep what they got."""
            changed = await update_package(pool, await hotspot.package(code), by=who.name,
                                           **body.model_dump())
            return Changed(code=code, changed=changed)

        @app.get("/api/v1/plans", tags=["plans"])
        async def plans(_who: Reader) -> list[PlanOut]:
            """Every Gx plan, by code (`ocsd plan list`)."""
            return [PlanOut(**plan_json(p)) for p in await list_plans(pool)]

        @app.get("/api/v1/plans/{code}", tags=["plans"], responses=problem_responses(404))
        async def plan(code: Code, _who: Reader) -> PlanOut:
            """One plan with its charging rules (`ocsd plan show`)."""
            found = await get_plan(pool, code)
            if found is None:
                raise UnknownPlan(f"no plan {code}")
            return PlanOut(**plan_json(found))

        @app.post("/api/v1/plans", status_code=201, tags=["plans"], responses=problem_responses(409, 422))
        async def create(body: PlanIn, who: Writer) -> PlanOut:
            """Add a plan (`ocsd plan create`; an existing code is refused)."""
            p = _plan(body.code, body)
            await create_plan(pool, p, by=who.name)
            return PlanOut(**plan_json(p))

        @app.put("/api/v1/plans/{code}", tags=["plans"], responses=problem_responses(404, 422))
        async def replace_plan(code: Code, body: PlanBody, who: Writer) -> PlanOut:
            """Replace a plan's settings; live Gx sessions get them at their next policy decision."""
            return PlanOut(**await update_plan(pool, _plan(code, body), by=who.name))

        @app.delete("/api/v1/plans/{code}", status_code=204, tags=["plans"], responses=problem_responses(404, 409))
        async def remove_plan(code: Code, who: Writer) -> None:
            """Delete a plan no subscriber names."""
            await delete_plan(pool, code, by=who.name)

    return add


__all__ = ["routes"]
