"""Hotspot packages, voucher codes and the Mikrotik reply: pure values and rules.

A package is what a voucher (or a subscriber's purchase) gives: a time allowance, an optional data allowance,
a rate limit, a validity counted from the first login, how many devices may be online at once, and a price.
The Access-Accept carries what remains, not the package total (issue 11 point 3).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# No 0/O, 1/I/L, 5/S, 2/Z, 8/B: codes read aloud or typed from a paper voucher are not mistaken.
VOUCHER_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
GIGAWORD = 1 << 32  # RFC 2869 §5.1: Acct-Input-Gigawords counts the wraps of the 32-bit octet counter
_RATE = r"\d+(\.\d+)?[kKM]?"
# Mikrotik-Rate-Limit: "rx[/tx] [burst-rx[/tx] [threshold-rx[/tx] [burst-time-rx[/tx] [priority] [min-rx[/tx]]]]]"
RATE_LIMIT_RE = re.compile(rf"^{_RATE}(/{_RATE})?( {_RATE}(/{_RATE})?( {_RATE}(/{_RATE})?( \d+(/\d+)?"
                           rf"( [1-8]( {_RATE}(/{_RATE})?)?)?)?)?)?$")
PACKAGE_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,31}$")


class InvalidPackage(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class HotspotPackage:
    code: str
    name: str
    time_seconds: int
    data_octets: int | None  # None: unlimited
    rate_limit: str  # Mikrotik-Rate-Limit
    validity_hours: int
    devices: int = 1
    price: int = 0  # minor units

    def __post_init__(self) -> None:
        if not PACKAGE_CODE_RE.match(self.code):
            raise InvalidPackage(f"package code {self.code!r}: letters, digits, '_', '.', '-' (at most 32)")
        if self.time_seconds <= 0:
            raise InvalidPackage("time must be positive")
        if self.data_octets is not None and self.data_octets <= 0:
            raise InvalidPackage("data must be positive (leave it out for unlimited)")
        if not RATE_LIMIT_RE.match(self.rate_limit):
            raise InvalidPackage(f"rate limit {self.rate_limit!r} is not in Mikrotik-Rate-Limit syntax")
        if self.validity_hours <= 0 or self.devices <= 0 or self.price < 0:
            raise InvalidPackage("validity and devices must be positive, the price not negative")


def voucher_code(random_bytes: bytes, length: int) -> str:
    """A code of `length` characters of VOUCHER_ALPHABET from `random_bytes` (at least 2 per character;
    rejection sampling keeps every character equally likely)."""
    n = len(VOUCHER_ALPHABET)
    limit = 256 - 256 % n
    out = [VOUCHER_ALPHABET[b % n] for b in random_bytes if b < limit]
    if len(out) < length:
        raise ValueError("not enough random bytes")
    return "".join(out[:length])


def counter64(octets: int | None, gigawords: int | None) -> int:
    """RFC 2869 §5.1/§5.2: the 64-bit count from the 32-bit octets and the gigawords (wraps)."""
    return (gigawords or 0) * GIGAWORD + (octets or 0)


def split64(octets: int) -> tuple[int, int]:
    """(low 32 bits, gigawords) of an octet count, as Mikrotik-Total-Limit + -Gigawords take it."""
    return octets % GIGAWORD, octets // GIGAWORD


@dataclass(frozen=True, slots=True)
class Remaining:
    time_seconds: int
    data_octets: int | None  # None: unlimited
    rate_limit: str
    validity_end: int  # unix seconds


def accept_attributes(left: Remaining, now: int, interim_interval: int, klass: bytes) -> list[tuple[str, object]]:
    """The Access-Accept of a login: what remains (PEERS.md: RouterOS limits are per session, so they are sent
    as what is left at each login)."""
    timeout = max(1, min(left.time_seconds, left.validity_end - now))  # RFC 2865 §5.27
    attrs: list[tuple[str, object]] = [("Session-Timeout", timeout), ("Acct-Interim-Interval", interim_interval),
                                       ("Class", klass), ("Mikrotik-Rate-Limit", left.rate_limit)]
    if left.data_octets is not None:
        low, high = split64(left.data_octets)
        attrs += [("Mikrotik-Total-Limit", low), ("Mikrotik-Total-Limit-Gigawords", high)]
    return attrs


__all__ = ["GIGAWORD", "VOUCHER_ALPHABET", "HotspotPackage", "InvalidPackage", "Remaining", "accept_attributes",
           "counter64", "split64", "voucher_code"]
