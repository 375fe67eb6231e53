"""Rating arithmetic (pure): rounding up to N, prices, affordability, bundle order and splitting."""

from __future__ import annotations

import ast
import pathlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocs.charging import ActiveBundle, Allowances, BundleDefinition, BundleKind, Dimension, InvalidAmount, Unit
from ocs.charging.errors import InsufficientFunds, error_from_reply
from ocs.charging.rating import (
    MAX_AMOUNT,
    affordable_units,
    blocks,
    check_amount,
    dimension_for,
    price_for,
    rounded_units,
    split_usage,
)


def test_rounding_up_to_unit_size() -> None:
    assert [blocks(u, 1000) for u in (0, 1, 999, 1000, 1001, 2000)] == [0, 1, 1, 1, 2, 2]
    assert rounded_units(1001, 1000) == 2000
    assert price_for(61, 60, 10) == 20
    assert price_for(0, 60, 10) == 0
    with pytest.raises(InvalidAmount):
        blocks(5, 0)


@given(st.integers(0, 10**12), st.integers(1, 10**6), st.integers(0, 10**4))
def test_price_covers_exactly_the_started_blocks(units: int, n: int, price: int) -> None:
    rounded = rounded_units(units, n)
    assert rounded % n == 0 and units <= rounded < units + n
    assert price_for(units, n, price) == rounded // n * price


@given(st.integers(-10, 10**9), st.integers(1, 10**4), st.integers(1, 10**3))
def test_affordable_units_never_cost_more_than_the_money(money: int, n: int, price: int) -> None:
    units = affordable_units(money, n, price)
    assert units is not None and units % n == 0
    assert price_for(units, n, price) <= max(money, 0)
    assert price_for(units + n, n, price) > money   # one more block is not affordable


def test_free_tariff_is_unlimited() -> None:
    assert affordable_units(0, 1, 0) is None


def test_dimensions() -> None:
    assert dimension_for(Unit.OCTETS, False) is Dimension.DATA
    assert dimension_for(Unit.OCTETS, True) is Dimension.ROAMING_DATA
    assert dimension_for(Unit.SECONDS, False) is Dimension.VOICE
    assert dimension_for(Unit.EVENTS, False) is Dimension.SMS
    assert dimension_for(Unit.SECONDS, True) is None
    assert dimension_for(Unit.EVENTS, True) is None


def bundle(bid: int, prio: int, exp: int, data: int, held: int = 0) -> ActiveBundle:
    return ActiveBundle(bid, f"b{bid}", prio, exp, Allowances(data_octets=data), Allowances(data_octets=held))


def test_split_usage_priority_then_expiry_skipping_expired() -> None:
    bundles = [bundle(1, 20, 500, 100), bundle(2, 10, 900, 100), bundle(3, 10, 800, 100, held=60),
               bundle(4, 1, 50, 1000)]
    taken, left = split_usage(bundles, Dimension.DATA, 250, now=100)
    assert taken == [(3, 40), (2, 100), (1, 100)] and left == 10


@given(st.lists(st.tuples(st.integers(0, 3), st.integers(0, 200), st.integers(0, 500)), max_size=6),
       st.integers(0, 3000), st.integers(0, 200))
def test_split_usage_conserves_units(specs: list[tuple[int, int, int]], units: int, now: int) -> None:
    bundles = [bundle(i + 1, p, e, d) for i, (p, e, d) in enumerate(specs)]
    taken, left = split_usage(bundles, Dimension.DATA, units, now)
    assert sum(t for _, t in taken) + left == units
    by_id = {b.bundle_id: b for b in bundles}
    for bid, t in taken:
        assert 0 < t <= by_id[bid].remaining.data_octets and by_id[bid].expires_at > now
    if left:
        assert sum(t for _, t in taken) == sum(b.remaining.data_octets for b in bundles if b.expires_at > now)


def test_check_amount() -> None:
    assert check_amount(5) == 5
    for bad in (-1, MAX_AMOUNT + 1, 1.5, True):
        with pytest.raises(InvalidAmount):
            check_amount(bad)  # type: ignore[arg-type]
    assert check_amount(-5, allow_negative=True) == -5
    with pytest.raises(InvalidAmount):
        check_amount(0, allow_zero=False)


def test_error_replies_map_to_errors() -> None:
    err = error_from_reply("OCS insufficient_funds available 3 needed 5")
    assert isinstance(err, InsufficientFunds) and err.code == "insufficient_funds"
    assert err.detail == "available 3 needed 5"
    assert error_from_reply("ERR something else") is None


FORBIDDEN = {"asyncio", "redis", "asyncpg", "structlog", "click"}


def test_charging_package_is_pure() -> None:
    root = pathlib.Path(__file__).resolve().parents[3] / "ocs" / "charging"
    for path in root.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"


@pytest.mark.parametrize(("kind", "allowances", "ok"), [
    ("data", Allowances(data_octets=1), True),
    ("data", Allowances(roaming_data_octets=1), True),
    ("data", Allowances(sms_count=5), False),            # --type data with only SMS
    ("voice", Allowances(voice_seconds=60, sms_count=5), True),   # extras are fine
    ("voice", Allowances(data_octets=1), False),
    ("sms", Allowances(sms_count=1), True),
    ("sms", Allowances(), False),
    ("hybrid", Allowances(data_octets=1, voice_seconds=1), True),
    ("hybrid", Allowances(), False),
])
def test_a_bundle_offers_what_its_type_says(kind, allowances, ok):
    def make() -> BundleDefinition:
        return BundleDefinition("b1", "B", BundleKind(kind), allowances, 30, 10, 100, "EUR")

    if ok:
        assert make().kind.value == kind
    else:
        with pytest.raises(ValueError, match="needs"):
            make()
