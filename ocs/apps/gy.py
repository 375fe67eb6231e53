"""Gy (online charging, RFC 4006 application 4; TS 32.299 §6.3): the OCS side of session Credit-Control.

A CCR-I/U/T is one decision: who pays (the Subscription-Id's account, or for CCR-U/T the session's), what each
MSCC used and wants (units of its rating group's tariff), then ONE store call that commits and re-grants every
MSCC atomically (`GyStore.ccr`, ocs/store/lua/gy_ccr.lua), then the CCA with a Result-Code per MSCC:
- a grant smaller than what was wanted is the last: it carries Final-Unit-Indication (RFC 4006 §5.6);
- nothing could be granted: 4012 DIAMETER_CREDIT_LIMIT_REACHED for that MSCC (RFC 4006 §9.1, TS 32.299
  §6.3.5); for a CCR-I where no MSCC got anything, the whole answer is 4012;
- a rating group without a tariff: 5031 DIAMETER_RATING_FAILED for that MSCC.
Refusals of the whole request are domain errors (unknown user 5030, unknown session 5002, blocked 4010) that
`ocs.apps.errors` maps and `CreditControlRefusal` answers. A CCR-U of a blocked account or barred SIM is answered
4010 too, after the script committed what it used (RFC 4006 §9.1; ocs.services.account_status). Pure: no store,
no asyncio.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from json.encoder import encode_basestring_ascii as _q
from typing import Any, Protocol

from ocs.apps.credit_control import CreditControlRefusal
from ocs.apps.dispatch import Context, Handler
from ocs.apps.errors import (
    DIAMETER_CREDIT_LIMIT_REACHED,
    DIAMETER_END_USER_SERVICE_DENIED,
    DIAMETER_RATING_FAILED,
)
from ocs.apps.gy_events import ENOUGH_CREDIT, NO_CREDIT, action_of, cost, cost_information, event_units, wants_cost
from ocs.apps.gy_messages import (
    APP_GY,
    CHECK_BALANCE,
    EVENT,
    FINAL,
    INITIAL,
    PRICE_ENQUIRY,
    REDIRECT,
    REGRANT,
    TERMINATE,
    TERMINATION,
    UNIT_AVP,
    CreditControlRequest,
    FinalUnit,
    mscc,
    parse_ccr,
)
from ocs.charging.errors import UnknownTariff
from ocs.charging.model import Tariff, Unit
from ocs.charging.rating import dimension_for
from ocs.config.gy import GyConfig
from ocs.diameter.capabilities import Application
from ocs.diameter.codes import DIAMETER_SUCCESS
from ocs.diameter.dictionary import Dictionary, default_dictionary
from ocs.diameter.errors import DiameterError
from ocs.diameter.message import Message
from ocs.subscribers.errors import UnknownSession, UnknownUser


@dataclass(frozen=True, slots=True)
class Item:
    """One rating group of a CCR as the store script takes it."""

    rg: int
    used: int
    wanted: int
    dim: str
    n: int
    price: int
    cur: str
    release: int

    def params(self) -> dict[str, Any]:
        return {"rg": self.rg, "used": self.used, "wanted": self.wanted, "dim": self.dim, "n": self.n,
                "price": self.price, "cur": self.cur, "release": self.release}

    def json(self) -> str:
        """`params()` as the script's JSON, written directly (the hot path: json.dumps costs more)."""
        return (f'{{"rg":{self.rg:d},"used":{self.used:d},"wanted":{self.wanted:d},"dim":{_q(self.dim)},'
                f'"n":{self.n:d},"price":{self.price:d},"cur":{_q(self.cur)},"release":{self.release:d}}}')


class GyStore(Protocol):
    async def account_of(self, imsi: str | None, msisdn: str | None) -> str:
        """The paying account (IMSI first); UnknownSubscriber when none is linked."""

    async def session_account(self, session_id: str) -> str | None:
        """The account of a live session, None when there is none."""

    async def ccr(self, account: str, ccr: CreditControlRequest, peer: str, realm: str,
                  items: list[Item]) -> dict[str, Any]:
        """All items of one CCR in one script call (see ocs/store/lua/gy_ccr.lua for the reply)."""

    async def event(self, account: str, ccr: CreditControlRequest, peer: str, action: int,
                    item: dict[str, Any]) -> dict[str, Any]:
        """One CCR-E (see ocs/store/lua/gy_event.lua for the reply)."""


Outcome = Callable[[str, int], None]  # (request type label, result code) for metrics
# SMS event charging by SMS tariffs (issue 18, ocs/sms/gy_hook.py): (result code, answer AVPs) or None for Gy's own
SmsEvent = Callable[[Message, CreditControlRequest, Context], Awaitable[tuple[int, dict[str, Any]] | None]]
Usage = Callable[[Unit, int, int, int], None]  # (unit, granted, used, charged) per MSCC answered, for metrics
TYPE_LABELS = {1: "initial", 2: "update", 3: "termination", 4: "event"}


class Gy:
    name = "credit_control"
    application = Application(APP_GY)

    def __init__(self, origin_host: str, origin_realm: str, config: GyConfig, store: GyStore,
                 tariff: Callable[[int], Tariff], *, home_plmns: Iterable[str] = (),
                 outcome: Outcome | None = None, usage: Usage | None = None,
                 dictionary: Dictionary | None = None, exhausted: Callable[[str], None] | None = None,
                 sms_event: SmsEvent | None = None) -> None:
        self.origin_host = origin_host
        self.origin_realm = origin_realm
        self.config = config
        self.store = store
        self.tariff = tariff
        self.home_plmns = frozenset(home_plmns)
        self.outcome = outcome or (lambda kind, result: None)
        self.usage = usage
        self.sms_event = sms_event
        self.exhausted = exhausted  # (account): a grant was the last or refused (Gx fair use, issue 10 point 3)
        self.d = dictionary if dictionary is not None else default_dictionary()
        self._refusal = CreditControlRefusal(origin_host, origin_realm, self.d)
        self.final_unit = FinalUnit(REDIRECT if config.final_unit_action == "redirect" else TERMINATE,
                                    config.redirect_url)
        self._caps = {Unit.OCTETS: config.grant_octets, Unit.SECONDS: config.grant_seconds,
                      Unit.EVENTS: config.grant_units}

    def routes(self) -> list[tuple[int, str, Handler]]:
        return [(self.d.command_named("Credit-Control", APP_GY).code, "CCR", self.ccr)]

    def refuse(self, request: Message, error: DiameterError, cause: Exception | None) -> Message:
        answer = self._refusal.refuse(request, error, cause)
        self.outcome("refused", error.result_code)
        return answer

    def roaming(self, plmn: str | None) -> bool:
        """Roaming when the SGSN/SGW's PLMN is known and not a home PLMN (no home PLMNs configured: never)."""
        return bool(self.home_plmns) and plmn is not None and plmn not in self.home_plmns

    def _items(self, ccr: CreditControlRequest) -> tuple[list[Item], dict[int, tuple[Unit, int]], list[int]]:
        """The store items, per rating group its unit and wanted units, and the rating groups without tariff."""
        roaming = self.roaming(ccr.sgsn_plmn)
        items: list[Item] = []
        wanted_by_rg: dict[int, tuple[Unit, int]] = {}
        unrated: list[int] = []
        for s in ccr.services:
            try:
                t = self.tariff(s.rating_group)
            except UnknownTariff:
                unrated.append(s.rating_group)
                continue
            used = s.used.of(t.unit) or 0
            cap = self._caps[t.unit]
            wanted = 0
            if ccr.request_type != TERMINATION and s.reporting_reason != FINAL and (
                    s.requested is not None or s.reporting_reason in REGRANT):
                asked = s.requested.of(t.unit) if s.requested is not None else None
                wanted = min(asked, cap) if asked else cap  # RFC 4006 §5.1.2: the server sizes the grant
            dim = dimension_for(t.unit, roaming)
            items.append(Item(s.rating_group, used, wanted, dim.value if dim is not None else "", t.unit_size,
                              t.price(roaming), t.currency, 1 if s.reporting_reason == FINAL else 0))
            wanted_by_rg[s.rating_group] = (t.unit, wanted)
        return items, wanted_by_rg, unrated

    def _answer(self, request: Message, ccr: CreditControlRequest, result: int,
                values: dict[str, Any] | None = None) -> Message:
        """RFC 4006 §3.2 CCA: the fixed AVPs, then `values` by name (None values are left out)."""
        self.outcome(TYPE_LABELS[ccr.request_type], result)
        return self.d.answer(request, {
            "Session-Id": ccr.session_id, "Result-Code": result, "Origin-Host": self.origin_host,
            "Origin-Realm": self.origin_realm, "Auth-Application-Id": APP_GY,
            "CC-Request-Type": ccr.request_type, "CC-Request-Number": ccr.request_number, **(values or {}),
        })

    async def _event(self, request: Message, ccr: CreditControlRequest, ctx: Context) -> Message:
        """RFC 4006 §5.2 one-time event (see ocs.apps.gy_events)."""
        if self.sms_event is not None:
            sms = await self.sms_event(request, ccr, ctx)
            if sms is not None:
                return self._answer(request, ccr, *sms)
        action = action_of(ccr)
        rg = ccr.services[0].rating_group
        tariff = self.tariff(rg)  # UnknownTariff: 5031 for the whole request
        roaming = self.roaming(ccr.sgsn_plmn)
        units = event_units(ccr, tariff.unit)
        price = cost(tariff, units, roaming)
        cost_info = cost_information(price, tariff.currency) if wants_cost(ccr) else None
        if action == PRICE_ENQUIRY:  # §6.22: the price only, nothing is looked up or changed
            return self._answer(request, ccr, DIAMETER_SUCCESS, {"Cost-Information": cost_info})
        if ccr.imsi is None and ccr.msisdn is None:
            raise UnknownUser("no Subscription-Id")
        account = await self.store.account_of(ccr.imsi, ccr.msisdn)
        dim = dimension_for(tariff.unit, roaming)
        item = {"rg": rg, "units": units, "dim": dim.value if dim is not None else "", "n": tariff.unit_size,
                "price": tariff.price(roaming), "cur": tariff.currency}
        reply = await self.store.event(account, ccr, ctx.peer, action, item)
        if action == CHECK_BALANCE:
            return self._answer(request, ccr, DIAMETER_SUCCESS,
                                {"Check-Balance-Result": ENOUGH_CREDIT if reply["ok"] else NO_CREDIT})
        if not reply["ok"]:  # §5.2.3: a direct debit the account cannot pay
            return self._answer(request, ccr, DIAMETER_CREDIT_LIMIT_REACHED)
        granted = {"Granted-Service-Unit": {UNIT_AVP[tariff.unit]: units}, "Rating-Group": rg,
                   "Result-Code": DIAMETER_SUCCESS}
        return self._answer(request, ccr, DIAMETER_SUCCESS,
                            {"Multiple-Services-Credit-Control": [granted], "Cost-Information": cost_info})

    async def ccr(self, request: Message, ctx: Context) -> Message:
        ccr = parse_ccr(request, self.d, self.config.default_rating_group)
        if ccr.request_type == EVENT:
            return await self._event(request, ccr, ctx)
        if ccr.request_type == INITIAL:
            if ccr.imsi is None and ccr.msisdn is None:
                raise UnknownUser("no Subscription-Id")
            account = await self.store.account_of(ccr.imsi, ccr.msisdn)
        else:
            found = await self.store.session_account(ccr.session_id)
            if found is None:
                raise UnknownSession(ccr.session_id)
            account = found
        items, wanted, unrated = self._items(ccr)
        reply = await self.store.ccr(account, ccr, ctx.peer, ctx.realm, items)
        if reply.get("denied"):  # blocked account or barred SIM: usage charged, nothing granted (gy_ccr.lua)
            return self._answer(request, ccr, DIAMETER_END_USER_SERVICE_DENIED, {
                "Multiple-Services-Credit-Control": [mscc(int(it["rg"]), DIAMETER_END_USER_SERVICE_DENIED)
                                                     for it in reply["items"]]})
        services: list[dict[str, Any]] = []
        granted_any = False
        usage = self.usage if not reply.get("duplicate") else None  # a retransmission counts nothing again
        for it in reply["items"]:
            rg = int(it["rg"])
            unit, want = wanted[rg]
            granted = int(it["granted"])
            if usage is not None:
                usage(unit, granted, next(i.used for i in items if i.rg == rg), int(it["charged"]))
            if want > 0 and granted == 0:
                services.append(mscc(rg, DIAMETER_CREDIT_LIMIT_REACHED))
                continue
            granted_any = granted_any or granted > 0
            services.append(mscc(rg, DIAMETER_SUCCESS, unit, granted,
                                 final=self.final_unit if 0 < granted < want else None,
                                 validity_time=self.config.validity_time,
                                 threshold_percent=self.config.quota_threshold_percent))
        services.extend(mscc(rg, DIAMETER_RATING_FAILED) for rg in unrated)
        if self.exhausted is not None and any(
                wanted[int(it["rg"])][0] == Unit.OCTETS and 0 <= int(it["granted"]) < wanted[int(it["rg"])][1]
                for it in reply["items"]):
            self.exhausted(account)  # the data ran out: a last grant (Final-Unit-Indication) or a 4012
        result = DIAMETER_SUCCESS
        if ccr.request_type == INITIAL and not granted_any and any(w for _, w in wanted.values()):
            result = DIAMETER_CREDIT_LIMIT_REACHED  # RFC 4006 §5.1.2: no credit at all for the session
        elif not items and unrated:
            result = DIAMETER_RATING_FAILED
        return self._answer(request, ccr, result, {"Multiple-Services-Credit-Control": services})


__all__ = ["Gy", "GyStore", "Item"]
