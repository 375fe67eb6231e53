"""ISO 4217 codes (issue 14 point 6): the pure table and every place a currency enters (config, tariffs,
bundles, accounts), and bounded caller references."""

from __future__ import annotations

import pytest

from ocs.charging import Allowances, BundleDefinition, BundleKind, InvalidCurrency, InvalidReference, Tariff, Unit
from ocs.charging.currencies import MINOR_UNITS, check_currency
from ocs.charging.model import MAX_REF, check_ref
from ocs.config import ConfigError, parse_config

MINIMAL = {"node": {"origin_host": "ocs.test", "origin_realm": "test"}}


@pytest.mark.parametrize("code", ["EUR", "USD", "KES", "JPY", "BHD", "XOF", "CLF"])
def test_iso_4217_codes_are_accepted(code):
    assert check_currency(code) == code


@pytest.mark.parametrize("code", ["XYZ", "ABC", "eur", "EU", "EURO", "", "XAU", "XTS", "XXX", " EUR"])
def test_other_codes_are_refused(code):
    with pytest.raises(InvalidCurrency, match="not an ISO 4217 code"):
        check_currency(code)


def test_minor_units_of_the_table():
    assert (MINOR_UNITS["EUR"], MINOR_UNITS["JPY"], MINOR_UNITS["BHD"], MINOR_UNITS["CLF"]) == (2, 0, 3, 4)
    assert all(len(c) == 3 and c.isalpha() and c.isupper() for c in MINOR_UNITS)
    assert len(MINOR_UNITS) > 150


def test_tariffs_bundles_and_the_config_take_only_iso_codes():
    with pytest.raises(ValueError, match="ISO 4217"):
        Tariff(1, Unit.OCTETS, 1000, 1, 1, "XYZ")
    with pytest.raises(ValueError, match="ISO 4217"):
        BundleDefinition("b", "B", BundleKind.DATA, Allowances(data_octets=1), 1, 1, 1, "ABC")
    with pytest.raises(ConfigError, match="ISO 4217"):
        parse_config({**MINIMAL, "charging": {"currency": "XYZ"}})
    assert parse_config({**MINIMAL, "charging": {"currency": "KES"}}).charging.currency == "KES"


def test_references_are_bounded_and_printable():
    assert check_ref("r" * MAX_REF) == "r" * MAX_REF
    for bad in ("", "r" * (MAX_REF + 1), "tab\there", "nl\n", "\x00"):
        with pytest.raises(InvalidReference, match="1 to 128 printable characters"):
            check_ref(bad)
