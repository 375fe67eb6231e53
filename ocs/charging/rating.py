"""Unit arithmetic of rating: pure integers, no I/O.

A tariff prices usage of a rating group per `unit_size` units (N); usage is rounded UP to a multiple of N
before it is priced. Bundles are drawn in exact units (no rounding). The Lua scripts implement the same
rules; these functions are the reference the tests compare them with.

Bundle order (DESIGN §4): lower `priority` number first, then earliest expiry, then the older bundle.
"""

from __future__ import annotations

from ocs.charging.errors import InvalidAmount
from ocs.charging.model import ActiveBundle, Dimension, Unit

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
