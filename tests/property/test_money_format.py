"""Money in major units (issue 13 point 4) from the ISO 4217 minor-unit table: currencies with 0, 2, 3 (and 4)
decimals; parse(format(x)) == x for every amount and currency."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocs.charging.currencies import MINOR_UNITS, format_major, parse_major


@pytest.mark.parametrize(("minor", "code", "text"), [
    (1500, "USD", "15.00"), (5, "EUR", "0.05"), (-250, "EUR", "-2.50"), (0, "EUR", "0.00"),
    (1500, "JPY", "1500"), (-7, "KRW", "-7"),
    (1500, "BHD", "1.500"), (1, "KWD", "0.001"), (-1, "TND", "-0.001"),
    (12345, "CLF", "1.2345"),
])
def test_known_amounts(minor: int, code: str, text: str):
    assert format_major(minor, code) == text
    assert parse_major(text, code) == minor


@pytest.mark.parametrize(("text", "code", "minor"), [
    ("15", "USD", 1500), ("15.5", "USD", 1550), (".5", "EUR", 50), ("+3", "JPY", 3), ("2.5", "BHD", 2500),
])
def test_short_forms(text: str, code: str, minor: int):
    assert parse_major(text, code) == minor


@pytest.mark.parametrize(("text", "code"), [
    ("15.001", "USD"), ("1.5", "JPY"), ("1.0001", "BHD"), ("abc", "EUR"), ("", "EUR"), ("1.", "EUR"),
    ("1.2.3", "EUR"), ("--1", "EUR"), ("1e3", "EUR"), ("١٢", "EUR"), ("1,50", "EUR"), ("15", "XXX"),
])
def test_refused(text: str, code: str):
    with pytest.raises(ValueError):
        parse_major(text, code)


@given(st.integers(min_value=-(10**18), max_value=10**18), st.sampled_from(sorted(MINOR_UNITS)))
def test_round_trip(minor: int, code: str):
    text = format_major(minor, code)
    assert parse_major(text, code) == minor
    digits = MINOR_UNITS[code]
    assert ("." in text) == (digits > 0) and (digits == 0 or len(text.rpartition(".")[2]) == digits)
