"""Charging values: catalog entries, tariffs, active bundles, account views, ledger entries, results.

All amounts are integers: money in minor units, data in octets, voice in seconds, SMS in events. Times are
integers: expiry in epoch seconds, ledger timestamps in epoch milliseconds.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from ocs.charging.currencies import check_currency
from ocs.charging.errors import InvalidReference

IMSI_RE = re.compile(r"^[0-9]{15}$")
CODE_RE = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
# An account id is opaque: letters, digits, '_', '.', '-' (no ':' - it separates the seq in ledger entry ids -
# and no braces - it is the Redis hash tag of the account's keys).
ACCOUNT_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


MAX_REF = 128  # caller references are kept with every ledger entry and in the account's `refs` hash


def check_ref(value: str, name: str = "reference") -> str:
    """A caller reference (top-up ref, gift id): 1 to 128 printable characters."""
    if not value or len(value) > MAX_REF or not value.isprintable():
        raise InvalidReference(f"a {name} is 1 to {MAX_REF} printable characters")
    return value


def check_account_id(value: str) -> str:
    if not ACCOUNT_RE.match(value):
        raise ValueError(f"account id {value!r} must be 1-64 letters, digits, '_', '.' or '-' (not first)")
    return value


class BundleKind(enum.StrEnum):
    DATA = "data"
    VOICE = "voice"
    SMS = "sms"
    HYBRID = "hybrid"


class Unit(enum.StrEnum):
    OCTETS = "octets"
    SECONDS = "seconds"
    EVENTS = "events"


class Dimension(enum.StrEnum):
    """An allowance of a bundle; the value is the field name the Lua scripts use."""

    DATA = "d"
    VOICE = "v"
    SMS = "s"
    ROAMING_DATA = "r"


class LedgerKind(enum.StrEnum):
    TOPUP = "topup"
    ADJUST = "adjust"
    REFUND = "refund"
    PURCHASE = "purchase"
    GIFT_OUT = "gift_out"
    GIFT_IN = "gift_in"
    GIFT_REFUND = "gift_refund"
    USAGE = "usage"
    EXPIRE = "expire"


@dataclass(frozen=True, slots=True)
class Allowances:
    data_octets: int = 0
    voice_seconds: int = 0
    sms_count: int = 0
    roaming_data_octets: int = 0

    def get(self, dimension: Dimension) -> int:
        return {
            Dimension.DATA: self.data_octets,
            Dimension.VOICE: self.voice_seconds,
            Dimension.SMS: self.sms_count,
            Dimension.ROAMING_DATA: self.roaming_data_octets,
        }[dimension]


@dataclass(frozen=True, slots=True)
class BundleDefinition:
    """A catalog entry. Lower `priority` numbers are drawn first."""

    code: str
    name: str
    kind: BundleKind
    allowances: Allowances
    validity_days: int
    priority: int
    price: int
    currency: str
    rating_groups: tuple[int, ...] = ()  # an app bundle: serves only these rating groups; empty: any

    def __post_init__(self) -> None:
        if any(not 0 <= rg <= 2**32 - 1 for rg in self.rating_groups):  # RFC 4006 §8.29 Unsigned32
            raise ValueError("rating groups are integers from 0 to 4294967295")
        if not CODE_RE.match(self.code):
            raise ValueError(f"bundle code {self.code!r} must match {CODE_RE.pattern}")
        check_currency(self.currency)
        for name in ("validity_days", "priority", "price"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer")
        if self.validity_days == 0:
            raise ValueError("validity_days must be positive")
        a = self.allowances
        if min(a.data_octets, a.voice_seconds, a.sms_count, a.roaming_data_octets) < 0:
            raise ValueError("allowances must not be negative")
        data, voice, sms = a.data_octets + a.roaming_data_octets, a.voice_seconds, a.sms_count
        offered = {BundleKind.DATA: data, BundleKind.VOICE: voice, BundleKind.SMS: sms}
        if self.kind is BundleKind.HYBRID:
            if not (data or voice or sms):
                raise ValueError("a hybrid bundle needs at least one allowance")
        elif not offered[self.kind]:  # extras (a few SMS with a voice bundle) are fine; the type's own is not
            raise ValueError(f"a {self.kind.value} bundle needs a {self.kind.value} allowance")


@dataclass(frozen=True, slots=True)
class Tariff:
    """Price of a rating group: `price_home`/`price_roaming` per started block of `unit_size` units."""

    rating_group: int
    unit: Unit
    unit_size: int
    price_home: int
    price_roaming: int
    currency: str

    def __post_init__(self) -> None:
        if self.rating_group < 0 or self.unit_size <= 0 or self.price_home < 0 or self.price_roaming < 0:
            raise ValueError("rating group, prices >= 0 and unit size > 0 are required")
        check_currency(self.currency)

    def price(self, roaming: bool) -> int:
        return self.price_roaming if roaming else self.price_home


@dataclass(frozen=True, slots=True)
class ActiveBundle:
    """A bundle a subscriber holds: remaining allowances, the part held by reservations, expiry."""

    bundle_id: int
    code: str
    priority: int
    expires_at: int
    remaining: Allowances
    held: Allowances = field(default_factory=Allowances)
    rating_groups: tuple[int, ...] = ()  # limited to these rating groups (issue 9); empty: any

    def available(self, dimension: Dimension) -> int:
        return self.remaining.get(dimension) - self.held.get(dimension)


@dataclass(frozen=True, slots=True)
class Sim:
    """A SIM that points at an account."""

    imsi: str
    msisdn: str


@dataclass(frozen=True, slots=True)
class AccountView:
    account: str          # the account id
    currency: str
    balance: int          # money the subscriber owns
    held: int             # part of it held by open reservations
    bundles: tuple[ActiveBundle, ...]

    @property
    def available(self) -> int:
        return self.balance - self.held


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    """One change of an account. `entry_id` is `<account>:<seq>`, `seq` counts the account's changes."""

    entry_id: str
    account: str
    seq: int
    kind: str
    amount: int           # money delta in minor units (0 for bundle-only changes)
    balance_after: int
    ref: str
    created_ms: int
    detail: Mapping[str, object]


@dataclass(frozen=True, slots=True)
class Grant:
    granted: int          # units granted (0 is never returned: that is InsufficientFunds)
    from_bundles: int
    from_balance: int
    money_held: int


@dataclass(frozen=True, slots=True)
class CommitResult:
    charged: int          # money taken from the balance
    from_bundles: int     # units drawn from bundles
    from_balance: int     # units priced on the balance
    unpaid: int           # money the balance could not cover (over-use past zero): written off, never negative
    entry_id: str         # the ledger entry, "" when nothing changed
    duplicate: bool       # a retransmission: the original result, nothing charged again


@dataclass(frozen=True, slots=True)
class UpdateResult:
    """A CCR-U for one rating group: the usage committed, then the next reservation (None: nothing more could be
    granted; the usage is charged all the same)."""

    committed: CommitResult
    grant: Grant | None


@dataclass(frozen=True, slots=True)
class MoneyResult:
    entry_id: str
    balance: int
    duplicate: bool


@dataclass(frozen=True, slots=True)
class PurchaseResult:
    entry_id: str
    bundle_id: int
    balance: int
    duplicate: bool


@dataclass(frozen=True, slots=True)
class GiftResult:
    gift_id: str
    sender_entry: str
    recipient_entry: str
    bundle_id: int
