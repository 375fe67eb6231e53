"""SMS prices (pure): longest prefix, MCC/MNC first, tiers per part, validation; a hypothesis property that a
message's price equals the sum of one-part messages sent one after another (the Lua script's loop)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocs.sms.errors import InvalidSms, NoSmsTariff
from ocs.sms.pricing import (
    PriceBook,
    SmsTariff,
    check_sender,
    check_tariff,
    month_of,
    normalise_destination,
    price_of,
    tier_price,
)


def book() -> PriceBook:
    return PriceBook([SmsTariff("p", "prefix", "254", 0, 5, "KES"), SmsTariff("p", "prefix", "25471", 0, 3, "KES"),
                      SmsTariff("p", "mccmnc", "63902", 0, 2, "KES"), SmsTariff("p", "prefix", "25471", 100, 1, "KES"),
                      SmsTariff("q", "prefix", "4", 0, 9, "KES")])


def test_longest_prefix_wins_and_mccmnc_first() -> None:
    b = book()
    assert b.tiers("p", "254712345678") == ((0, 3), (100, 1))
    assert b.tiers("p", "254733000000") == ((0, 5),)
    assert b.tiers("p", "254712345678", "63902") == ((0, 2),)
    assert b.tiers("p", "254712345678", "99999") == ((0, 3), (100, 1))  # unknown network: the prefix
    assert b.tiers("p", "33123456789") is None
    assert b.by_plan("447700900000") == {"q": ((0, 9),)}


def test_tiers_price_each_part_at_its_count() -> None:
    tiers = ((0, 10), (3, 4))
    assert [tier_price(tiers, n) for n in range(5)] == [10, 10, 10, 4, 4]
    assert price_of(tiers, 2, 2) == 14
    assert price_of(((5, 7),), 0, 1) == 7  # below the first tier: its price
    with pytest.raises(NoSmsTariff):
        price_of(None, 0, 1)


@given(st.lists(st.tuples(st.integers(0, 50), st.integers(0, 1000)), min_size=1, max_size=5, unique_by=lambda t: t[0]),
       st.integers(0, 100), st.integers(1, 20))
def test_a_message_costs_its_parts_sent_one_by_one(raw: list[tuple[int, int]], before: int, parts: int) -> None:
    tiers = tuple(sorted(raw))
    assert price_of(tiers, before, parts) == sum(price_of(tiers, before + i, 1) for i in range(parts))


def test_validation() -> None:
    assert normalise_destination("+254 712 345678") == "254712345678"
    for bad in ("", "abc", "+12", "1" * 16):
        with pytest.raises(InvalidSms):
            normalise_destination(bad)
    assert check_sender("ACME Ltd") == "ACME Ltd"
    for bad in ("", "TwelveChars!", "ABCDEFGHIJKL", "é"):
        with pytest.raises(InvalidSms):
            check_sender(bad)
    with pytest.raises(InvalidSms):
        check_tariff(SmsTariff("p", "prefix", "25a", 0, 1, "KES"))
    with pytest.raises(InvalidSms):
        check_tariff(SmsTariff("p", "mccmnc", "639", 0, 1, "KES"))
    assert month_of(1_780_000_000) == "202605"  # 2026-05-28 UTC


def test_sms_config_section() -> None:
    from ocs.config.sms import parse_sms
    from ocs.config.table import ConfigError, Table

    assert parse_sms(Table({}, "sms")).enabled is False
    with pytest.raises(ConfigError, match="amqp_url: is required"):
        parse_sms(Table({"enabled": True}, "sms"))
    with pytest.raises(ConfigError, match="prefetch"):
        parse_sms(Table({"prefetch": 0}, "sms"))
