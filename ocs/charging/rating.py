"""Unit arithmetic of rating: pure integers, no I/O.

A tariff prices usage of a rating group per `unit_size` units (N); usage is rounded UP to a multiple of N
before it is priced. Bundles are drawn in exact units (no rounding). The Lua scripts implement the same
rules; these functions, and the `Engine` model at the end, are the reference the tests compare them with.

Bundle order (DESIGN §4): lower `priority` number first, then earliest expiry, then the older bundle.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from ocs.charging.errors import CurrencyMismatch, DuplicateReference, InsufficientFunds, InvalidAmount, UnknownAccount
from ocs.charging.model import ActiveBundle, Dimension, Unit

T = TypeVar("T")

# Lua numbers are IEEE doubles: every amount the scripts see must be an exactly representable integer.
MAX_AMOUNT = 2**53 - 1


def check_amount(value: int, name: str = "amount", *, allow_negative: bool = False, allow_zero: bool = True) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise InvalidAmount(f"{name} must be an integer, got {value!r}")
    if abs(value) > MAX_AMOUNT:
        raise InvalidAmount(f"{name} {value} exceeds {MAX_AMOUNT}")
    if value < 0 and not allow_negative:
        raise InvalidAmount(f"{name} {value} is negative")
    if value == 0 and not allow_zero:
        raise InvalidAmount(f"{name} must not be zero")
    return value


def check_priced(units: int, unit_size: int, price: int, name: str = "units") -> int:
    """`units` priced at `price` per started block of `unit_size`: both the units and the product must stay
    within MAX_AMOUNT (the Lua engine computes the product in a double)."""
    check_amount(units, name)
    cost = price_for(units, unit_size, price)
    if cost > MAX_AMOUNT:
        raise InvalidAmount(f"{name} {units} x price {price} per {unit_size} = {cost} exceeds {MAX_AMOUNT}")
    return units


def blocks(units: int, unit_size: int) -> int:
    """How many priced blocks of `unit_size` cover `units` (rounded up)."""
    if unit_size <= 0:
        raise InvalidAmount(f"unit size {unit_size} must be positive")
    return -(-units // unit_size)


def rounded_units(units: int, unit_size: int) -> int:
    """`units` rounded up to a multiple of `unit_size`."""
    return blocks(units, unit_size) * unit_size


def price_for(units: int, unit_size: int, price: int) -> int:
    """Money for `units` at `price` per started block of `unit_size`."""
    return blocks(units, unit_size) * price


def affordable_units(money: int, unit_size: int, price: int) -> int | None:
    """The most units `money` pays for (whole blocks); None when the price is zero (unlimited)."""
    if price == 0:
        return None
    if money <= 0:
        return 0
    return (money // price) * unit_size


def dimension_for(unit: Unit, roaming: bool) -> Dimension | None:
    """The bundle allowance that serves usage of `unit`; None when no bundle can (roaming voice and SMS are
    charged from the balance at the roaming price)."""
    if unit is Unit.OCTETS:
        return Dimension.ROAMING_DATA if roaming else Dimension.DATA
    if roaming:
        return None
    return Dimension.VOICE if unit is Unit.SECONDS else Dimension.SMS


def bundle_order(bundle: ActiveBundle) -> tuple[int, int, int]:
    return (bundle.priority, bundle.expires_at, bundle.bundle_id)


def serving_bundles(bundles: list[ActiveBundle], dimension: Dimension, now: int) -> list[ActiveBundle]:
    """Bundles that may serve usage of `dimension` at `now`, in drawing order."""
    usable = [b for b in bundles if b.expires_at > now and b.available(dimension) > 0]
    return sorted(usable, key=bundle_order)


def split_usage(bundles: list[ActiveBundle], dimension: Dimension | None, units: int,
                now: int) -> tuple[list[tuple[int, int]], int]:
    """Draw `units` from bundles in order: ([(bundle_id, units taken)], units left for the balance)."""
    taken: list[tuple[int, int]] = []
    left = units
    if dimension is not None:
        for bundle in serving_bundles(bundles, dimension, now):
            if left == 0:
                break
            take = min(left, bundle.available(dimension))
            taken.append((bundle.bundle_id, take))
            left -= take
    return taken, left


# ---- the reference model of the Lua engine ------------------------------------------------------------------
# `Engine` keeps accounts in plain Python and applies the same operations as ocs/store/lua/*.lua, rule for rule
# (comments name the script): the stateful property test runs it beside Redis on the same random operations
# and requires the same results, balances, allowances and ledger sums. A refused operation changes nothing.

DIMS = ("d", "v", "s", "r")


@dataclass(slots=True)
class ModelBundle:
    bundle_id: int
    code: str
    priority: int
    expires_at: int
    left: dict[str, int]      # remaining allowance per dimension (d, v, s, r)
    held: dict[str, int]      # the part of it held by reservations


@dataclass(slots=True)
class ModelReservation:
    units: int
    dim: str
    n: int
    price: int
    ts: int
    money: int
    bal_units: int
    holds: list[tuple[int, int]]


@dataclass(slots=True)
class ModelAccount:
    currency: str
    balance: int = 0
    held: int = 0
    seq: int = 0
    ledger_sum: int = 0       # sum of the amounts of the ledger entries written
    bundles: dict[int, ModelBundle] = field(default_factory=dict)
    reservations: dict[str, ModelReservation] = field(default_factory=dict)
    refs: dict[str, tuple[int, str, int]] = field(default_factory=dict)
    requests: dict[str, tuple[int, ...]] = field(default_factory=dict)

    def entry(self, amount: int) -> int:
        self.seq += 1
        self.ledger_sum += amount
        return self.seq


class Engine:
    """The money rules of the Lua scripts, in memory. Results are plain tuples, the same fields as the replies."""

    def __init__(self) -> None:
        self.accounts: dict[str, ModelAccount] = {}

    def open(self, account: str, currency: str) -> None:                        # open.lua
        self.accounts.setdefault(account, ModelAccount(currency))

    def _get(self, account: str) -> ModelAccount:
        found = self.accounts.get(account)
        if found is None:
            raise UnknownAccount(account)
        return found

    def _atomic(self, account: str, body: Callable[[ModelAccount], T]) -> T:
        """Run `body` on a copy of the account and keep the copy only when it did not raise (a script either
        does everything or nothing)."""
        work = copy.deepcopy(self._get(account))
        out = body(work)
        self.accounts[account] = work
        return out

    # ---- money.lua, activate.lua (idempotent by ref: the _lib preamble)
    def _seen(self, a: ModelAccount | None, ref: str, kind: str, amount: int) -> int | None:
        if a is None or ref not in a.refs:
            return None
        seq, k, amt = a.refs[ref]
        if (k, amt) != (kind, amount):
            raise DuplicateReference(ref)
        return seq

    def money(self, account: str, kind: str, amount: int, ref: str) -> tuple[int, int, bool]:
        """(entry seq, balance after, duplicate)"""
        seen = self._seen(self.accounts.get(account), ref, kind, amount)
        if seen is not None:
            return seen, self.accounts[account].balance, True

        def body(a: ModelAccount) -> tuple[int, int, bool]:
            if amount < 0 and a.balance - a.held < -amount:
                raise InsufficientFunds(f"available {a.balance - a.held} needed {-amount}")
            if a.balance + amount > MAX_AMOUNT:
                raise InvalidAmount(f"balance {a.balance} + {amount} exceeds {MAX_AMOUNT}")
            a.balance += amount
            seq = a.entry(amount)
            a.refs[ref] = (seq, kind, amount)
            return seq, a.balance, False
        return self._atomic(account, body)

    def activate(self, account: str, kind: str, price: int, ref: str, code: str, priority: int, expires_at: int,
                 allowances: dict[str, int]) -> tuple[int, int, bool]:
        """(bundle id = entry seq, balance after, duplicate)"""
        seen = self._seen(self.accounts.get(account), ref, kind, -price)
        if seen is not None:
            return seen, self.accounts[account].balance, True

        def body(a: ModelAccount) -> tuple[int, int, bool]:
            if a.balance - a.held < price:
                raise InsufficientFunds(f"available {a.balance - a.held} needed {price}")
            a.balance -= price
            seq = a.entry(-price)
            a.bundles[seq] = ModelBundle(seq, code, priority, expires_at, dict(allowances), dict.fromkeys(DIMS, 0))
            a.refs[ref] = (seq, kind, -price)
            return seq, a.balance, False
        return self._atomic(account, body)

    # ---- usage: reserve.lua, commit.lua, update.lua, release.lua (_lib: reserve_in, commit_in, rsv_unhold)
    @staticmethod
    def _serving(a: ModelAccount, dim: str, now: int) -> list[ModelBundle]:
        if not dim:
            return []
        usable = [b for b in a.bundles.values() if b.expires_at > now and b.left[dim] - b.held[dim] > 0]
        return sorted(usable, key=lambda b: (b.priority, b.expires_at, b.bundle_id))

    @staticmethod
    def _unhold(a: ModelAccount, r: ModelReservation) -> None:
        a.held -= r.money
        for bid, amount in r.holds:
            if bid in a.bundles:
                a.bundles[bid].held[r.dim] -= amount

    def _reserve_in(self, a: ModelAccount, want: int, dim: str, n: int, price: int, now: int,
                    ts: int) -> tuple[tuple[int, int, int, int], ModelReservation | None]:
        left, holds, from_b = want, [], 0
        for b in self._serving(a, dim, now):
            if left == 0:
                break
            take = min(left, b.left[dim] - b.held[dim])
            b.held[dim] += take
            holds.append((b.bundle_id, take))
            left -= take
            from_b += take
        bal_units = money = 0
        if left > 0:
            if price == 0:
                bal_units = left
            else:
                bal_units = min(left, affordable_units(a.balance - a.held, n, price) or 0)
                money = price_for(bal_units, n, price)
        granted = from_b + bal_units
        if granted == 0:
            return (0, 0, 0, 0), None
        a.held += money
        return (granted, from_b, bal_units, money), ModelReservation(granted, dim, n, price, ts, money, bal_units,
                                                                      holds)

    def _commit_in(self, a: ModelAccount, r: ModelReservation | None, used: int, dim: str, n: int, price: int,
                   now: int) -> tuple[int, int, int, int, int]:
        left, from_b, bal_units, drew = used, 0, 0, False
        if r is not None:
            dim, n, price = r.dim, r.n, r.price
            self._unhold(a, r)
            for bid, amount in r.holds:
                b = a.bundles.get(bid)
                if b is not None and b.expires_at > now and left > 0:
                    take = min(left, amount)
                    b.left[dim] -= take
                    from_b, left, drew = from_b + take, left - take, True
            bal_units = min(left, r.bal_units)
            left -= bal_units
        for b in self._serving(a, dim, now) if left > 0 else []:
            if left == 0:
                break
            take = min(left, b.left[dim] - b.held[dim])
            b.left[dim] -= take
            from_b, left, drew = from_b + take, left - take, True
        bal_units += left
        cost = price_for(bal_units, n, price)
        if cost > MAX_AMOUNT:
            raise InvalidAmount(f"{bal_units} units x price {price} exceeds {MAX_AMOUNT}")
        charged = min(cost, max(a.balance - a.held, 0))
        a.balance -= charged
        seq = a.entry(-charged) if charged or cost - charged or drew else 0
        return charged, from_b, bal_units, cost - charged, seq

    @staticmethod
    def _currency(a: ModelAccount, currency: str | None) -> None:
        if currency is not None and a.currency != currency:
            raise CurrencyMismatch(f"account in {a.currency}, tariff in {currency}")

    def reserve(self, account: str, rkey: str, units: int, dim: str, n: int, price: int, currency: str | None,
                now: int, ts: int) -> tuple[int, int, int, int]:
        """(granted, from bundles, from balance units, money held)"""
        def body(a: ModelAccount) -> tuple[int, int, int, int]:
            self._currency(a, currency)
            old = a.reservations.get(rkey)
            if old is not None:
                self._unhold(a, old)
            grant, r = self._reserve_in(a, units, dim, n, price, now, ts)
            if r is None:
                raise InsufficientFunds("nothing to grant")
            a.reservations[rkey] = r
            return grant
        return self._atomic(account, body)

    def commit(self, account: str, rkey: str, used: int, dim: str, n: int, price: int, currency: str | None,
               now: int, request_id: str) -> tuple[int, ...]:
        """(charged, from bundles, from balance units, unpaid, entry seq or 0, duplicate 0|1)"""
        return self.update(account, rkey, used, 0, dim, n, price, currency, now, 0, request_id)[:6]

    def update(self, account: str, rkey: str, used: int, wanted: int, dim: str, n: int, price: int,
               currency: str | None, now: int, ts: int, request_id: str) -> tuple[int, ...]:
        """commit then (wanted > 0) reserve: (charged, from bundles, from balance units, unpaid, entry seq or 0,
        duplicate 0|1, granted, granted from bundles, granted from balance units, money held)"""
        a0 = self.accounts.get(account)
        if a0 is not None and request_id in a0.requests:
            return (*a0.requests[request_id][:5], 1, *a0.requests[request_id][6:])

        def body(a: ModelAccount) -> tuple[int, ...]:
            self._currency(a, currency)
            r = a.reservations.pop(rkey, None)
            committed = self._commit_in(a, r, used, dim, n, price, now)
            grant: tuple[int, int, int, int] = (0, 0, 0, 0)
            if wanted:
                grant, new = self._reserve_in(a, wanted, dim, n, price, now, ts)
                if new is not None:
                    a.reservations[rkey] = new
            a.requests[request_id] = (*committed, 0, *grant)
            return a.requests[request_id]
        return self._atomic(account, body)

    def release(self, account: str, rkey: str) -> int:
        a = self.accounts.get(account)
        r = a.reservations.pop(rkey, None) if a is not None else None
        if r is None or a is None:
            return 0
        self._unhold(a, r)
        return r.units

    def expire(self, account: str, now: int) -> int:                             # expire.lua
        a = self._get(account)
        gone = [bid for bid, b in a.bundles.items() if b.expires_at <= now]
        for bid in gone:
            del a.bundles[bid]
        if gone:
            a.entry(0)
        return len(gone)
