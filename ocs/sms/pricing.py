"""SMS prices (issue 18 point 1): a tariff plan prices a message by destination, per part, with volume tiers.

A plan holds rules keyed by a destination prefix (E.164 digits without "+": "254" Kenya, "25471" one network;
the longest matching prefix wins, ITU-T E.164 §6) or by an MCC/MNC ("63902", TS 23.003 §2.2), which wins over
prefixes when the charge request names the network. A rule has tiers: `from_count` N prices the parts sent past
N parts in the calendar month (UTC) by the account, so the price drops with volume. A multi-part message (TS
23.040 §9.2.3.24.1 concatenation) counts each part, each part priced at its own tier.

Pure: the reference model of ocs/store/lua/sms_charge.lua, which applies the same tiers to the account's
monthly counter atomically with the debit.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

from ocs.sms.errors import InvalidSms, NoSmsTariff

MAX_PARTS = 255  # TS 23.040 §9.2.3.24.1: the concatenation count is one octet
SENDER_RE = re.compile(r"^(?:[A-Za-z0-9 ._&-]{1,11}|\+?[0-9]{1,15})$")  # alphanumeric <= 11 (TS 23.040 §9.1.2.5)
DESTINATION_RE = re.compile(r"^\+?[0-9]{3,15}$")  # E.164 §6.1: at most 15 digits
PREFIX_RE = re.compile(r"^[0-9]{1,15}$")
MCCMNC_RE = re.compile(r"^[0-9]{5,6}$")
MESSAGE_ID_RE = re.compile(r"^[\x21-\x7e]{1,128}$")
PREFIX, MCCMNC = "prefix", "mccmnc"


@dataclass(frozen=True, slots=True)
class SmsTariff:
    """One tier of one rule: parts past `from_count` in the month cost `price` minor units each."""

    plan: str
    match_kind: str  # "prefix" or "mccmnc"
    match: str
    from_count: int
    price: int
    currency: str


Tiers = tuple[tuple[int, int], ...]  # (from_count, price) sorted by from_count


def normalise_destination(destination: str) -> str:
    d = destination.strip().replace(" ", "")
    if not DESTINATION_RE.match(d):
        raise InvalidSms(f"destination {destination!r}: 3 to 15 digits, optionally after '+'")
    return d.lstrip("+")


def check_sender(sender_id: str) -> str:
    if not SENDER_RE.match(sender_id):
        raise InvalidSms(f"sender id {sender_id!r}: at most 11 letters, digits, spaces or ._&- (or a number)")
    return sender_id


def check_parts(parts: int) -> int:
    if not 1 <= parts <= MAX_PARTS:
        raise InvalidSms(f"parts {parts}: between 1 and {MAX_PARTS}")
    return parts


def check_message_id(message_id: str) -> str:
    if not MESSAGE_ID_RE.match(message_id):
        raise InvalidSms("message_id: 1 to 128 printable characters without spaces")
    return message_id


def check_tariff(t: SmsTariff) -> SmsTariff:
    if t.match_kind == PREFIX and not PREFIX_RE.match(t.match):
        raise InvalidSms(f"prefix {t.match!r}: 1 to 15 digits")
    if t.match_kind == MCCMNC and not MCCMNC_RE.match(t.match):
        raise InvalidSms(f"MCC/MNC {t.match!r}: 5 or 6 digits")
    if t.match_kind not in (PREFIX, MCCMNC):
        raise InvalidSms(f"match kind {t.match_kind!r}")
    if not t.plan or len(t.plan) > 64:
        raise InvalidSms("plan: 1 to 64 characters")
    if t.from_count < 0 or not 0 <= t.price < 2**53:
        raise InvalidSms("from_count and price must not be negative")
    return t


def month_of(now: float) -> str:
    """The counter period of the volume tiers: the calendar month in UTC, "YYYYMM"."""
    return time.strftime("%Y%m", time.gmtime(now))


class PriceBook:
    """Every plan's rules in memory, indexed for the lookup of one destination."""

    def __init__(self, tariffs: Iterable[SmsTariff] = ()) -> None:
        self._rules: dict[str, dict[tuple[str, str], list[tuple[int, int]]]] = {}
        self._currency: dict[str, str] = {}
        self._longest = 0
        for t in tariffs:
            self.add(t)

    def add(self, t: SmsTariff) -> None:
        tiers = self._rules.setdefault(t.plan, {}).setdefault((t.match_kind, t.match), [])
        tiers[:] = sorted([x for x in tiers if x[0] != t.from_count] + [(t.from_count, t.price)])
        self._currency[t.plan] = t.currency
        if t.match_kind == PREFIX:
            self._longest = max(self._longest, len(t.match))

    def plans(self) -> list[str]:
        return sorted(self._rules)

    def currency(self, plan: str) -> str | None:
        return self._currency.get(plan)

    def tiers(self, plan: str, destination: str, mccmnc: str | None = None) -> Tiers | None:
        """The tiers of the rule for `destination` in `plan`: the MCC/MNC rule when given and known, else the
        longest matching prefix; None when nothing matches."""
        rules = self._rules.get(plan)
        if not rules:
            return None
        if mccmnc:
            found = rules.get((MCCMNC, mccmnc))
            if found:
                return tuple(found)
        for n in range(min(len(destination), self._longest), 0, -1):
            found = rules.get((PREFIX, destination[:n]))
            if found:
                return tuple(found)
        return None

    def by_plan(self, destination: str, mccmnc: str | None = None) -> dict[str, Tiers]:
        """The matching tiers of every plan (the charge script picks the account's plan)."""
        out = {}
        for plan in self._rules:
            found = self.tiers(plan, destination, mccmnc)
            if found is not None:
                out[plan] = found
        return out


def tier_price(tiers: Tiers, count: int) -> int:
    """Price of one part when `count` parts were sent before it this month."""
    price = tiers[0][1]
    for from_count, p in tiers:
        if count >= from_count:
            price = p
        else:
            break
    return price


def price_of(tiers: Tiers | None, sent_this_month: int, parts: int) -> int:
    """The price of a message of `parts` parts after `sent_this_month` parts (the rule of sms_charge.lua)."""
    if tiers is None:
        raise NoSmsTariff("no tariff for this destination")
    return sum(tier_price(tiers, sent_this_month + i) for i in range(parts))


__all__ = ["MAX_PARTS", "MCCMNC", "PREFIX", "PriceBook", "SmsTariff", "Tiers", "check_message_id", "check_parts",
           "check_sender", "check_tariff", "month_of", "normalise_destination", "price_of", "tier_price"]
