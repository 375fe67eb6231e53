"""Gy messages (RFC 4006 §3.1-3.2, TS 32.299 §6.4): the CCR read into values, the CCA's MSCC built by name.

Pure: decisions only, no store. `parse_ccr` reads what charging needs from a Credit-Control-Request: who pays
(Subscription-Id: END_USER_IMSI wins over END_USER_E164, PEERS.md: open5gs sends both), the serving PLMN
(3GPP-SGSN-MCC-MNC in PS-Information, TS 32.299 §7.2.143), and one `ServiceRequest` per
Multiple-Services-Credit-Control (an MSCC without Rating-Group, or a CCR with none, is the default rating
group; RFC 4006 §8.16 single-service RSU/USU at the top level become one MSCC). `mscc` builds one answered MSCC.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ocs.apps.credit_control import (
    END_USER_E164,
    END_USER_IMSI,
    EVENT,
    INITIAL,
    TERMINATION,
    UPDATE,
    subscription_ids,
)
from ocs.charging.model import Unit
from ocs.diameter.codes import DIAMETER_INVALID_AVP_VALUE
from ocs.diameter.dictionary import Dictionary
from ocs.diameter.errors import DiameterError
from ocs.diameter.message import Message
from ocs.diameter.typed import Group

APP_GY = 4  # RFC 4006 §1.3 Diameter Credit-Control Application
# TS 32.299 §7.2.175 Reporting-Reason
THRESHOLD, QHT, FINAL, QUOTA_EXHAUSTED, VALIDITY_TIME = 0, 1, 2, 3, 4
REGRANT = frozenset({THRESHOLD, QHT, QUOTA_EXHAUSTED, VALIDITY_TIME})
DIRECT_DEBITING, REFUND_ACCOUNT, CHECK_BALANCE, PRICE_ENQUIRY = 0, 1, 2, 3  # RFC 4006 §8.41 Requested-Action
TERMINATE, REDIRECT = 0, 1  # RFC 4006 §8.35 Final-Unit-Action
URL = 2  # RFC 4006 §8.38 Redirect-Address-Type

# the AVP that carries an amount of each unit in Requested-/Used-/Granted-Service-Unit (RFC 4006 §8.17-8.21)
UNIT_AVP = {Unit.OCTETS: "CC-Total-Octets", Unit.SECONDS: "CC-Time", Unit.EVENTS: "CC-Service-Specific-Units"}
THRESHOLD_AVP = {Unit.OCTETS: "Volume-Quota-Threshold", Unit.SECONDS: "Time-Quota-Threshold",
                 Unit.EVENTS: "Unit-Quota-Threshold"}


@dataclass(frozen=True, slots=True)
class Units:
    """A Requested-/Used-Service-Unit: each amount None when absent."""

    time: int | None = None
    total_octets: int | None = None
    input_octets: int | None = None
    output_octets: int | None = None
    service_specific: int | None = None

    def of(self, unit: Unit) -> int | None:
        """The amount in `unit`; octets are CC-Total-Octets, or Input plus Output when only those are given."""
        if unit is Unit.OCTETS:
            if self.total_octets is not None:
                return self.total_octets
            if self.input_octets is None and self.output_octets is None:
                return None
            return (self.input_octets or 0) + (self.output_octets or 0)
        return self.time if unit is Unit.SECONDS else self.service_specific


def _units(g: Group) -> Units:
    return Units(g.get("CC-Time"), g.get("CC-Total-Octets"), g.get("CC-Input-Octets"), g.get("CC-Output-Octets"),
                 g.get("CC-Service-Specific-Units"))


def _used(groups: list[Group]) -> tuple[Units, int | None]:
    """TS 32.299 §6.3.3: an MSCC may report several Used-Service-Unit (tariff change): they add up, each in
    its own terms (one may give CC-Total-Octets, another only Input and Output)."""
    total: dict[str, int] = {}
    reason = None
    for g in groups:
        u = _units(g)
        for name, unit in (("total_octets", Unit.OCTETS), ("time", Unit.SECONDS),
                           ("service_specific", Unit.EVENTS)):
            v = u.of(unit)
            if v is not None:
                total[name] = total.get(name, 0) + v
        if reason is None:
            reason = g.get("Reporting-Reason")
    return Units(**total), reason


@dataclass(frozen=True, slots=True)
class ServiceRequest:
    """One Multiple-Services-Credit-Control of a CCR."""

    rating_group: int
    requested: Units | None      # None: no Requested-Service-Unit
    used: Units
    reporting_reason: int | None  # of the MSCC, or of its Used-Service-Unit


@dataclass(frozen=True, slots=True)
class CreditControlRequest:
    session_id: str
    request_type: int
    request_number: int
    imsi: str | None
    msisdn: str | None
    sgsn_plmn: str | None
    requested_action: int | None
    service_context_id: str
    services: tuple[ServiceRequest, ...]
    aoc_request_type: int | None = None  # TS 32.299 §7.2.8: AOC_FULL (1) or AOC_COST_ONLY (2) ask for the cost


def _sgsn_plmn(r: Group) -> str | None:
    info = r.get("Service-Information")
    ps = info.get("PS-Information") if info is not None else None
    value = ps.get("3GPP-SGSN-MCC-MNC") if ps is not None else None
    return value if isinstance(value, str) and value else None


def parse_ccr(request: Message, d: Dictionary, default_rating_group: int) -> CreditControlRequest:
    """The CCR's charging content; DiameterError (5005 missing, 5004 invalid) with Failed-AVP when malformed."""
    r = d.read(request)
    request_type = r["CC-Request-Type"]
    request_number = r["CC-Request-Number"]
    if request_type not in (INITIAL, UPDATE, TERMINATION, EVENT):
        raise DiameterError(DIAMETER_INVALID_AVP_VALUE, "CC-Request-Type", r.avp("CC-Request-Type"))
    # whom to charge is read from the CCR-I (and a CCR-E); a CCR-U/T belongs to its session's account
    imsi, msisdn = subscription_ids(r) if request_type in (INITIAL, EVENT) else (None, None)
    services = []
    for m in r.all("Multiple-Services-Credit-Control"):
        used, reason = _used(m.all("Used-Service-Unit"))
        rsu = m.get("Requested-Service-Unit")
        services.append(ServiceRequest(m.get("Rating-Group", default_rating_group),
                                       _units(rsu) if rsu is not None else None, used,
                                       m.get("Reporting-Reason", reason)))
    if not services:  # RFC 4006 §5.1.1: single-service credit control at the top level
        used, reason = _used(r.all("Used-Service-Unit"))
        rsu = r.get("Requested-Service-Unit")
        services.append(ServiceRequest(default_rating_group, _units(rsu) if rsu is not None
                                       else (Units() if request_type in (INITIAL, UPDATE) else None), used, reason))
    return CreditControlRequest(r["Session-Id"], request_type, request_number, imsi, msisdn, _sgsn_plmn(r),
                                r.get("Requested-Action"), r.get("Service-Context-Id", ""), tuple(services),
                                r.get("AoC-Request-Type"))


@dataclass(frozen=True, slots=True)
class FinalUnit:
    """What the last grant carries (RFC 4006 §8.34): TERMINATE, or REDIRECT to `url`."""

    action: int = TERMINATE
    url: str | None = None

    def avp(self) -> dict[str, Any]:
        values: dict[str, Any] = {"Final-Unit-Action": self.action}
        if self.action == REDIRECT and self.url:
            values["Redirect-Server"] = {"Redirect-Address-Type": URL, "Redirect-Server-Address": self.url}
        return values


def mscc(rating_group: int, result_code: int, unit: Unit | None = None, granted: int = 0, *,
         final: FinalUnit | None = None, validity_time: int | None = None,
         threshold_percent: int = 0) -> dict[str, Any]:
    """One answered Multiple-Services-Credit-Control (RFC 4006 §8.16, TS 32.299 §7.1.9), as `d.build` takes it."""
    values: dict[str, Any] = {}
    if unit is not None and granted > 0:
        values["Granted-Service-Unit"] = {UNIT_AVP[unit]: granted}
    values["Rating-Group"] = rating_group
    if unit is not None and granted > 0 and validity_time:
        values["Validity-Time"] = validity_time
    values["Result-Code"] = result_code
    if final is not None:
        values["Final-Unit-Indication"] = final.avp()
    if unit is not None and granted > 0 and threshold_percent:
        values[THRESHOLD_AVP[unit]] = granted * threshold_percent // 100
    return values


__all__ = [
    "APP_GY", "CHECK_BALANCE", "DIRECT_DEBITING", "END_USER_E164", "END_USER_IMSI", "EVENT", "FINAL", "INITIAL",
    "PRICE_ENQUIRY", "REDIRECT", "REFUND_ACCOUNT", "REGRANT", "TERMINATE", "TERMINATION", "UNIT_AVP", "UPDATE",
    "CreditControlRequest", "FinalUnit", "ServiceRequest", "Units", "mscc", "parse_ccr",
]
