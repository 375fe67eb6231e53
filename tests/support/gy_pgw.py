"""A PGW/SMF for Gy end-to-end tests: python-diameter's node speaking Credit-Control (RFC 4006) to the daemon,
and the provisioning (accounts, SIMs, tariffs, bundles) a test needs before the daemon starts."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Callable
from typing import Any

import asyncpg
from diameter.message.avp import Avp
from diameter.message.avp.grouped import (
    MultipleServicesCreditControl,
    PsInformation,
    RequestedServiceUnit,
    ServiceInformation,
    UsedServiceUnit,
)
from diameter.message.commands import CreditControlRequest

from ocs.charging.model import Allowances, BundleDefinition, BundleKind, Tariff, Unit
from ocs.services.charging import ChargingService
from tests.support.cc_client import CreditControlClient

GY = 4
INITIAL, UPDATE, TERMINATION, EVENT = 1, 2, 3, 4


class Pgw(CreditControlClient):
    def __init__(self, port: int, origin_host: str = "pgw.test",
                 on_request: Callable[[Any, Any], Any] | None = None) -> None:
        self.on_request = on_request
        super().__init__(port, origin_host, GY)

    def answer(self, app: Any, message: Any) -> Any:  # RAA / ASA: DIAMETER_SUCCESS unless the test says other
        return self.on_request(app, message) if self.on_request is not None else self.success(message, 2001)

    def ccr(self, session: str, kind: int, number: int, *, imsi: str | None = None, msisdn: str | None = None,
            mscc: list[MultipleServicesCreditControl] | None = None, plmn: str | None = None,
            requested_action: int | None = None, context: str = "32251@3gpp.org") -> CreditControlRequest:
        ccr = self.base_ccr(session, kind, number, imsi, msisdn)
        ccr.service_context_id = context
        if requested_action is not None:
            ccr.requested_action = requested_action
        for m in mscc or []:
            ccr.multiple_services_credit_control.append(m)
        if plmn is not None:
            ccr.service_information = ServiceInformation(ps_information=PsInformation(tgpp_sgsn_mcc_mnc=plmn))
        return ccr

    @staticmethod
    def aoc(ccr: Any, value: int = 2) -> Any:
        """AoC-Request-Type (TS 32.299 §7.2.8; 2 = AOC_COST_ONLY), which python-diameter's CCR does not name."""
        ccr.append_avp(Avp.new(2055, 10415, value=value))
        return ccr



def mscc(rating_group: int | None = None, *, requested: bool = True, used: int | None = None,
         used_time: int | None = None, reason: int | None = None, requested_units: int | None = None,
         events: int | None = None) -> MultipleServicesCreditControl:
    m = MultipleServicesCreditControl()
    if rating_group is not None:
        m.rating_group = rating_group
    if requested:
        m.requested_service_unit = RequestedServiceUnit(cc_total_octets=requested_units,
                                                        cc_service_specific_units=events)
    if used is not None or used_time is not None:
        m.used_service_unit = [UsedServiceUnit(cc_total_octets=used, cc_time=used_time)]
    if reason is not None:
        m.reporting_reason = [reason]
    return m


def avp_value(answer: Any, *path: tuple[int, int]) -> Any:
    """A value python-diameter's CCA class does not name: Check-Balance-Result (422), Cost-Information (423)."""
    found = answer.find_avps(*path)
    return found[0].value if found else None


def by_rg(answer: Any) -> dict[int | None, Any]:
    return {m.rating_group: m for m in answer.multiple_services_credit_control}


async def provision(redis_url: str, prefix: str, dsn: str, *, balance: int, tariffs: list[Tariff] = (),  # type: ignore[assignment]
                    bundles: list[BundleDefinition] = (), buy: tuple[str, ...] = ()) -> tuple[str, str, str]:  # type: ignore[assignment]
    """A SIM with an account holding `balance` (EUR cents) and the bundles `buy`; returns (imsi, msisdn,
    account)."""
    imsi = "00101" + f"{secrets.randbelow(10**10):010d}"
    msisdn = "4917" + imsi[-8:]
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("INSERT INTO subscribers (imsi, msisdn, k_enc, opc_enc) VALUES ($1, $2, $3, $4)",
                           imsi, msisdn, b"\x00" * 44, b"\x00" * 44)
    finally:
        await conn.close()
    store = store_for_url(redis_url, prefix)
    await store.start()
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        service = ChargingService(store, pool)
        await service.load()
        for t in tariffs:
            await service.set_tariff(t)
        existing = {b.code for b in await service.list_bundles()}
        for b in bundles:
            if b.code not in existing:
                await service.create_bundle(b)
        account = await service.open_account("EUR")
        await service.link_sim(account, imsi, msisdn)
        if balance:
            await service.top_up(account, balance, "initial")
        for i, code in enumerate(buy):
            await service.purchase(account, code, f"buy-{i}")
        return imsi, msisdn, account
    finally:
        await pool.close()
        await store.close()


async def account_view(redis_url: str, prefix: str, account: str) -> Any:
    store = store_for_url(redis_url, prefix)
    await store.start()
    try:
        from ocs.store.charging_redis import ChargingRedis

        return await ChargingRedis(store).account(account)
    finally:
        await store.close()


def data_tariff(rg: int, price: int = 1, unit_size: int = 1000) -> Tariff:
    return Tariff(rg, Unit.OCTETS, unit_size, price, price * 5, "EUR")


def data_bundle(code: str, octets: int, price: int = 0) -> BundleDefinition:
    return BundleDefinition(code, code, BundleKind.DATA, Allowances(octets, 0, 0, 0), 30, 1, price, "EUR")


def store_for_url(url: str, prefix: str) -> Any:
    from tests.support.redis_cluster import store_for_url as make

    return make(url, prefix)


def run(coro: Any) -> Any:
    return asyncio.run(coro)
