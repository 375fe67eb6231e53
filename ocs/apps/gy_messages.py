"""Gy messages (RFC 4006 §3.1-3.2, TS 32.299 §6.4): the CCR read into values, the CCA's MSCC built by name.

Pure: decisions only, no store. `parse_ccr` reads what charging needs from a Credit-Control-Request: who pays
(Subscription-Id: END_USER_IMSI wins over END_USER_E164, PEERS.md: open5gs sends both), the serving PLMN
(3GPP-SGSN-MCC-MNC in PS-Information, TS 32.299 §7.2.143), and one `ServiceRequest` per
Multiple-Services-Credit-Control (an MSCC without Rating-Group, or a CCR with none, is the default rating
group; RFC 4006 §8.16 single-service RSU/USU at the top level become one MSCC). `mscc` builds one answered MSCC.
"""

from __future__ import annotations

from collections.abc import Callable
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
from ocs.diameter.avp import Avp
from ocs.diameter.codes import DIAMETER_INVALID_AVP_VALUE
from ocs.diameter.dictionary import Dictionary
from ocs.diameter.errors import DiameterError
from ocs.diameter.message import Message
from ocs.diameter.typed import Group, spec

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


# The AVPs parse_ccr reads, each resolved by name once per dictionary into (code, vendor) -> (slot, reader): a
# CCR-U is then read in one pass over its AVPs and one over each MSCC's, instead of a scan per name (the Gy hot
# path, issue 9 point 6). The first of a name counts (as Group.get), the others are left alone.
_UNIT_NAMES = ("CC-Time", "CC-Total-Octets", "CC-Input-Octets", "CC-Output-Octets", "CC-Service-Specific-Units")
_MSCC_NAMES = ("Rating-Group", "Requested-Service-Unit", "Used-Service-Unit", "Reporting-Reason")
_Table = dict[tuple[int, int], tuple[int, Callable[[Avp], Any] | None]]
_TABLES: dict[int, tuple[Dictionary, _Table, _Table, Callable[[Avp], Any] | None]] = {}


def _tables(d: Dictionary) -> tuple[_Table, _Table, Callable[[Avp], Any] | None]:
    found = _TABLES.get(id(d))
    if found is None or found[0] is not d:
        def table(names: tuple[str, ...]) -> _Table:
            out: _Table = {}
            for i, name in enumerate(names):
                sp = spec(d, name)
                out[(sp.code, sp.vendor_id)] = (i, sp.read)
            return out

        found = _TABLES[id(d)] = (d, table(_UNIT_NAMES), table(_MSCC_NAMES), spec(d, "Reporting-Reason").read)
    return found[1], found[2], found[3]


def _unit_values(avps: list[Avp], table: _Table) -> list[Any]:
    values: list[Any] = [None] * 5
    for a in avps:
        hit = table.get((a[0], a[2]))
        if hit is not None and values[hit[0]] is None:
            values[hit[0]] = hit[1](a) if hit[1] is not None else None
    return values


def _units(avps: list[Avp], table: _Table) -> Units:
    return Units(*_unit_values(avps, table))


def _used(groups: list[Avp], table: _Table, reason_read: Callable[[Avp], Any] | None,
          reason_key: tuple[int, int]) -> tuple[Units, int | None]:
    """TS 32.299 §6.3.3: an MSCC may report several Used-Service-Unit (tariff change): they add up, each in
    its own terms (one may give CC-Total-Octets, another only Input and Output). Also the first
    Reporting-Reason found inside them."""
    if not groups:
        return Units(), None
    octets = seconds = events = None
    reason = None
    for g in groups:
        members = g.grouped
        t, total, inp, out, ssu = _unit_values(members, table)
        if total is None and (inp is not None or out is not None):
            total = (inp or 0) + (out or 0)
        if total is not None:
            octets = (octets or 0) + total
        if t is not None:
            seconds = (seconds or 0) + t
        if ssu is not None:
            events = (events or 0) + ssu
        if reason is None and reason_read is not None:
            for a in members:
                if (a[0], a[2]) == reason_key:
                    reason = reason_read(a)
                    break
    return Units(time=seconds, total_octets=octets, service_specific=events), reason


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
    units, members, reason_read = _tables(d)
    mscc_spec = spec(d, "Multiple-Services-Credit-Control")
    mscc_key = (mscc_spec.code, mscc_spec.vendor_id)
    reason_spec = spec(d, "Reporting-Reason")
    reason_key = (reason_spec.code, reason_spec.vendor_id)
    services = []
    for m in r.avps:
        if (m[0], m[2]) != mscc_key:
            continue
        rg = rsu = reason = None
        used: list[Avp] = []
        for a in m.grouped:  # one pass over the MSCC (RFC 4006 §8.16)
            hit = members.get((a[0], a[2]))
            if hit is None:
                continue
            slot, read = hit
            if slot == 0 and rg is None:
                rg = read(a) if read is not None else None
            elif slot == 1 and rsu is None:
                rsu = a
            elif slot == 2:
                used.append(a)
            elif slot == 3 and reason is None:
                reason = read(a) if read is not None else None
        used_units, used_reason = _used(used, units, reason_read, reason_key)
        services.append(ServiceRequest(default_rating_group if rg is None else rg,
                                       _units(rsu.grouped, units) if rsu is not None else None, used_units,
                                       used_reason if reason is None else reason))
    if not services:  # RFC 4006 §5.1.1: single-service credit control at the top level
        used_units, used_reason = _used([a for a in r.avps if (a[0], a[2]) == _key(d, "Used-Service-Unit")],
                                        units, reason_read, reason_key)
        rsu_avp = r.avp("Requested-Service-Unit")
        services.append(ServiceRequest(default_rating_group, _units(rsu_avp.grouped, units) if rsu_avp is not None
                                       else (Units() if request_type in (INITIAL, UPDATE) else None), used_units,
                                       used_reason))
    return CreditControlRequest(r["Session-Id"], request_type, request_number, imsi, msisdn, _sgsn_plmn(r),
                                r.get("Requested-Action"), r.get("Service-Context-Id", ""), tuple(services),
                                r.get("AoC-Request-Type"))


def _key(d: Dictionary, name: str) -> tuple[int, int]:
    sp = spec(d, name)
    return sp.code, sp.vendor_id


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
