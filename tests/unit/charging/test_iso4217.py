"""ISO 4217 numeric codes (RFC 4006 §8.11 Currency-Code in Cost-Information): every currency an account may hold
has its number, numbers are three digits, and the current list has no number twice."""

from __future__ import annotations

import pytest

from ocs.apps.gy_events import cost_information
from ocs.charging.currencies import MINOR_UNITS
from ocs.charging.iso4217 import CURRENT, NUMERIC, WITHDRAWN, numeric_code


def test_every_accepted_currency_has_its_number():
    assert sorted(set(MINOR_UNITS) - set(NUMERIC)) == []


def test_numbers_are_three_digits_and_unique_in_the_current_list():
    assert all(0 < n < 1000 for n in NUMERIC.values())
    assert len(set(CURRENT.values())) == len(CURRENT)
    assert len(CURRENT) >= 170  # all of list one, not a hand-picked few


@pytest.mark.parametrize(("alpha", "number"), [
    ("EUR", 978), ("USD", 840), ("JPY", 392), ("KES", 404), ("GBP", 826), ("BHD", 48), ("ALL", 8),
    ("XOF", 952), ("ZWG", 924), ("XCG", 532), ("SLE", 925), ("VED", 926), ("CLF", 990), ("XAU", 959),
])
def test_known_numbers(alpha, number):
    assert numeric_code(alpha) == number


def test_withdrawn_codes_accounts_may_still_hold():
    assert WITHDRAWN == {"ANG": 532, "BGN": 975, "CUC": 931, "SLL": 694, "ZWL": 932}
    assert numeric_code("XYZ") is None


@pytest.mark.parametrize(("currency", "number", "exponent"), [("BHD", 48, -3), ("JPY", 392, 0), ("MWK", 454, -2)])
def test_cost_information_names_the_currency_by_number(currency, number, exponent):
    assert cost_information(1234, currency) == {
        "Unit-Value": {"Value-Digits": 1234, "Exponent": exponent}, "Currency-Code": number}
