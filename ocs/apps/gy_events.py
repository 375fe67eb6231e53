"""Gy event charging (CCR-E, RFC 4006 §5.2, §6.22; TS 32.299 §6.3.3 IEC for SMS, Service-Context-Id
32274@3gpp.org): DIRECT_DEBITING, REFUND_ACCOUNT, CHECK_BALANCE and PRICE_ENQUIRY for the rating group of the
request's MSCC (or the default one), in units of its tariff (an SMS is one CC-Service-Specific-Unit).

Pure: the decision and the answer; the store call is `GyStore.event` (ocs/store/lua/gy_event.lua). A debit the
account cannot pay is refused with 4012 DIAMETER_CREDIT_LIMIT_REACHED and takes nothing (RFC 4006 §5.2.3).
Cost-Information (§8.7) answers a PRICE_ENQUIRY, and a debit whose CCR asked for it (AoC-Request-Type).
"""

from __future__ import annotations

from typing import Any

from ocs.apps.gy_messages import (
    CHECK_BALANCE,
    DIRECT_DEBITING,
    PRICE_ENQUIRY,
    REFUND_ACCOUNT,
    UNIT_AVP,
    CreditControlRequest,
)
from ocs.charging.currencies import MINOR_UNITS
from ocs.charging.iso4217 import NUMERIC
from ocs.charging.model import Tariff, Unit
from ocs.diameter.codes import DIAMETER_INVALID_AVP_VALUE, DIAMETER_MISSING_AVP
from ocs.diameter.errors import DiameterError

ACTIONS = frozenset({DIRECT_DEBITING, REFUND_ACCOUNT, CHECK_BALANCE, PRICE_ENQUIRY})
ENOUGH_CREDIT, NO_CREDIT = 0, 1  # RFC 4006 §8.6 Check-Balance-Result
AOC_FULL, AOC_COST_ONLY = 1, 2   # TS 32.299 §7.2.8 AoC-Request-Type



def event_units(ccr: CreditControlRequest, unit: Unit) -> int:
    """The units an event is about: the MSCC's (or top-level) Requested-Service-Unit, else its Used-Service-Unit,
    else one event (an SMS); another unit without an amount is refused (5005)."""
    s = ccr.services[0]
    amount = s.requested.of(unit) if s.requested is not None else None
    if amount is None:
        amount = s.used.of(unit)
    if amount is None:
        if unit is not Unit.EVENTS:
            raise DiameterError(DIAMETER_MISSING_AVP, f"Requested-Service-Unit {UNIT_AVP[unit]} missing")
        amount = 1
    if amount <= 0:
        raise DiameterError(DIAMETER_INVALID_AVP_VALUE, "an event of no units")
    return amount


def action_of(ccr: CreditControlRequest) -> int:
    if ccr.requested_action is None:  # RFC 4006 §3.1: required in an EVENT_REQUEST
        raise DiameterError(DIAMETER_MISSING_AVP, "Requested-Action missing")
    if ccr.requested_action not in ACTIONS:
        raise DiameterError(DIAMETER_INVALID_AVP_VALUE, "Requested-Action")
    return ccr.requested_action


def cost(tariff: Tariff, units: int, roaming: bool) -> int:
    """Units rounded up to the tariff's unit size, priced (the rule of ocs.charging.rating and the scripts)."""
    return -(-units // tariff.unit_size) * tariff.price(roaming)


def cost_information(amount: int, currency: str) -> dict[str, Any]:
    """RFC 4006 §8.7: the amount as Value-Digits x 10^Exponent in the currency's main unit; §8.11 Currency-Code
    is the ISO 4217 number of the tariff's currency (every code `check_currency` accepts has one)."""
    return {"Unit-Value": {"Value-Digits": amount, "Exponent": -MINOR_UNITS.get(currency, 0)},
            "Currency-Code": NUMERIC[currency]}


def wants_cost(ccr: CreditControlRequest) -> bool:
    return ccr.requested_action == PRICE_ENQUIRY or ccr.aoc_request_type in (AOC_FULL, AOC_COST_ONLY)


__all__ = ["ACTIONS", "ENOUGH_CREDIT", "NO_CREDIT", "action_of", "cost", "cost_information",
           "event_units", "wants_cost"]
