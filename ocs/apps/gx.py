"""Gx (policy control, TS 29.212, application 16777238): the PCRF side of the PCEF's Credit-Control.

- CCR-I (§4.5.1): the subscriber by Subscription-Id (IMSI first, then E.164; unknown: 5030
  DIAMETER_USER_UNKNOWN, the RFC 4006 §9.1 code TS 29.212 §5.5 reuses), their plan (or `[gx] default_plan`), and
  a CCA with the plan's policy (ocs.apps.gx_messages.policy); the session is kept (owning peer, subscriber, APN,
  Framed-IP-Address, the plan as installed, throttled or not). A subscriber without any plan gets a CCA with
  Supported-Features only (the PCEF keeps its own defaults).
- CCR-U: the session's request number advances; event triggers are acknowledged; usage reports (§4.5.17) add up
  per SIM and billing month, and past the plan's monthly volume the session is throttled.
- CCR-T (§4.5.1): the session is freed.
A CCR-U/T of no live session is 5002 DIAMETER_UNKNOWN_SESSION_ID (RFC 6733 §7.1.5). A retransmitted CCR (same
Session-Id and CC-Request-Number) is answered from what the first one stored (the plan snapshot), so the answer
is the first answer's. Refusals are domain errors the error table maps (application name "credit_control").
Pure: no store, no asyncio.
"""

from __future__ import annotations

import ipaddress
import json
import time
from collections.abc import Callable
from typing import Any, Protocol

from ocs.apps.credit_control import INITIAL, TERMINATION, UPDATE, CreditControlRefusal, subscription_ids
from ocs.apps.dispatch import Context, Handler
from ocs.apps.gx_messages import APP_GX, SUPPORTED_FEATURES, VENDOR_3GPP, monitoring, policy, rule_install
from ocs.diameter.capabilities import Application
from ocs.diameter.codes import DIAMETER_INVALID_AVP_VALUE, DIAMETER_SUCCESS
from ocs.diameter.dictionary import Dictionary, default_dictionary
from ocs.diameter.errors import DiameterError
from ocs.diameter.message import Message
from ocs.policy.plans import (
    Plan,
    billing_month,
    installed_rules,
    monitoring_grant,
    plan_from,
    plan_json,
    throttle_rule,
)
from ocs.subscribers.errors import UnknownUser


class GxStore(Protocol):
    async def subscriber(self, imsi: str | None, msisdn: str | None) -> tuple[str, str | None]:
        """(IMSI, plan code or None) of the subscriber; UnknownUser when there is none."""

    async def plan(self, code: str) -> Plan | None: ...

    async def account(self, imsi: str) -> str | None:
        """The account paying for the SIM (None: the SIM has none)."""

    async def throttled(self, account: str) -> bool:
        """Whether the account's data has run out (fair use, issue 10 point 3)."""

    async def used(self, imsi: str, month: str) -> int:
        """Octets reported under usage monitoring by the SIM in the billing month."""

    async def add_usage(self, imsi: str, month: str, octets: int) -> int:
        """Add reported octets; the month's total."""

    async def mark_throttled(self, account: str) -> None:
        """The account's data ran out: its other sessions are throttled by RAR (ocs.services.gx_notify)."""

    async def set_fields(self, session_id: str, fields: dict[str, str]) -> None: ...

    async def open(self, session_id: str, n: int, fields: dict[str, str]) -> dict[str, str]: ...

    async def update(self, session_id: str, n: int) -> dict[str, str]: ...

    async def close(self, session_id: str, n: int) -> dict[str, str]: ...


def used_octets(r: Any, key: str) -> int | None:
    """The octets of the Usage-Monitoring-Information reports under Monitoring-Key `key` (§5.3.57,
    Used-Service-Unit: CC-Total-Octets, else CC-Input-Octets + CC-Output-Octets); None when there is none."""
    total = None
    for g in r.all("Usage-Monitoring-Information"):
        if g.get("Monitoring-Key") != key.encode():
            continue
        for u in g.all("Used-Service-Unit"):
            octets = u.get("CC-Total-Octets")
            if octets is None:
                octets = (u.get("CC-Input-Octets") or 0) + (u.get("CC-Output-Octets") or 0)
            total = (total or 0) + octets
    return total


def _ip(raw: bytes | None) -> str:
    """RFC 7155 §4.4.10.5.1 Framed-IP-Address: the 4 octets of an IPv4 address."""
    if raw is None or len(raw) != 4:
        return ""
    return str(ipaddress.IPv4Address(raw))


class Gx:
    name = "credit_control"
    application = Application(APP_GX, VENDOR_3GPP)

    def __init__(self, origin_host: str, origin_realm: str, store: GxStore, default_plan: str | None = None,
                 dictionary: Dictionary | None = None, clock: Callable[[], float] = time.time) -> None:
        self.origin_host = origin_host
        self.origin_realm = origin_realm
        self.store = store
        self.default_plan = default_plan
        self.clock = clock
        self.d = dictionary if dictionary is not None else default_dictionary()
        self._refusal = CreditControlRefusal(origin_host, origin_realm, self.d)

    def routes(self) -> list[tuple[int, str, Handler]]:
        return [(self.d.command_named("Credit-Control", APP_GX).code, "CCR", self.ccr)]

    def refuse(self, request: Message, error: DiameterError, cause: Exception | None) -> Message:
        return self._refusal.refuse(request, error, cause)

    def _answer(self, request: Message, session_id: str, kind: int, n: int,
                values: dict[str, Any] | None = None) -> Message:
        """TS 29.212 §5.6.3 CCA."""
        return self.d.answer(request, {
            "Session-Id": session_id, "Result-Code": DIAMETER_SUCCESS, "Origin-Host": self.origin_host,
            "Origin-Realm": self.origin_realm, "Auth-Application-Id": APP_GX,
            "CC-Request-Type": kind, "CC-Request-Number": n, **(values or {})})

    async def _initial(self, r: Any, session_id: str, n: int, ctx: Context) -> dict[str, Any]:
        imsi, msisdn = subscription_ids(r)
        if imsi is None and msisdn is None:
            raise UnknownUser("no Subscription-Id")
        imsi, code = await self.store.subscriber(imsi, msisdn)
        code = code or self.default_plan
        plan = await self.store.plan(code) if code else None
        account = await self.store.account(imsi)
        throttled = bool(plan is not None and plan.throttles and account and await self.store.throttled(account))
        grant = None
        if plan is not None and plan.monthly_octets is not None:
            grant = monitoring_grant(plan, await self.store.used(imsi, billing_month(self.clock())))
            throttled = throttled or (grant == 0 and plan.throttles)
        s = await self.store.open(session_id, n, {
            "peer": ctx.peer, "realm": ctx.realm, "imsi": imsi, "account": account or "",
            "apn": r.get("Called-Station-Id") or "",
            "ip": _ip(r.get("Framed-IP-Address")), "plan": json.dumps(plan_json(plan)) if plan else "",
            "throttled": "1" if throttled else "0"})
        if s.get("dup") == "1":  # a retransmission: the first answer's plan and state
            plan = plan_from(json.loads(s["plan"])) if s.get("plan") else None
            throttled = s.get("throttled") == "1"
        if plan is None:
            return {"Supported-Features": SUPPORTED_FEATURES}
        values = policy(plan, installed_rules(plan, throttled), throttled)
        if grant:
            values.update(monitoring(plan, grant))
        return values

    async def _reported(self, r: Any, s: dict[str, str], kind: int) -> dict[str, Any]:
        """Usage reports of a CCR-U/T (TS 29.212 §4.5.17.2): the octets added to the SIM's month; past the plan's
        monthly volume the session is throttled in this answer (and the account's other sessions by RAR),
        else a CCR-U gets the next threshold."""
        plan = plan_from(json.loads(s["plan"])) if s.get("plan") else None
        if plan is None or plan.monitoring_key is None or s.get("dup") == "1":
            return {}
        octets = used_octets(r, plan.monitoring_key)
        if octets is None:
            return {}
        total = await self.store.add_usage(s["imsi"], billing_month(self.clock()), octets)
        grant = monitoring_grant(plan, total)
        if kind == TERMINATION:
            return {}
        if grant > 0:
            return monitoring(plan, grant)
        rule = throttle_rule(plan)
        if rule is None or s.get("throttled") == "1":
            return {}
        await self.store.set_fields(s["session"], {"throttled": "1"})
        if s.get("account"):
            await self.store.mark_throttled(s["account"])
        return {"Charging-Rule-Install": rule_install((rule,))}

    async def ccr(self, request: Message, ctx: Context) -> Message:
        r = self.d.read(request)
        session_id, kind, n = r["Session-Id"], r["CC-Request-Type"], r["CC-Request-Number"]
        values: dict[str, Any] = {}
        if kind == INITIAL:
            values = await self._initial(r, session_id, n, ctx)
        elif kind == UPDATE:
            s = await self.store.update(session_id, n)  # UnknownSession: 5002
            values = await self._reported(r, {**s, "session": session_id}, kind)
        elif kind == TERMINATION:
            s = await self.store.close(session_id, n)
            await self._reported(r, {**s, "session": session_id}, kind)
        else:  # TS 29.212 §5.3: Gx has no EVENT_REQUEST
            raise DiameterError(DIAMETER_INVALID_AVP_VALUE, "Gx has no event requests", r.avp("CC-Request-Type"))
        return self._answer(request, session_id, kind, n, values)


__all__ = ["Gx", "GxStore"]
