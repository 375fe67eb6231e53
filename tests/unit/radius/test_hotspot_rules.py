"""radius.hotspot: 64-bit counters from octets + Gigawords, what remains in the Access-Accept, voucher codes,
package checks."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from radius.hotspot import (
    GIGAWORD,
    VOUCHER_ALPHABET,
    HotspotPackage,
    InvalidPackage,
    Remaining,
    accept_attributes,
    counter64,
    split64,
    voucher_code,
)

octets64 = st.integers(0, (1 << 64) - 1)


@given(octets64)
def test_split_and_join_64_bit_counts(n):
    low, high = split64(n)
    assert 0 <= low < GIGAWORD and counter64(low, high) == n


@given(st.integers(0, GIGAWORD - 1), st.integers(0, GIGAWORD - 1))
def test_gigawords_are_the_high_32_bits(low, high):
    assert counter64(low, high) == (high << 32) | low  # RFC 2869 §5.1


@given(st.binary(min_size=40, max_size=64), st.integers(6, 16))
def test_voucher_codes_use_only_the_unambiguous_alphabet(random_bytes, length):
    try:
        code = voucher_code(random_bytes, length)
    except ValueError:
        return  # too many bytes rejected by the sampling
    assert len(code) == length and set(code) <= set(VOUCHER_ALPHABET)
    assert not set(code) & set("0O1IL5S2Z8B")


@given(st.integers(1, 10**7), st.one_of(st.none(), octets64), st.integers(0, 10**6), st.integers(1, 10**7))
def test_accept_carries_what_remains_capped_by_validity(time_left, data_left, now, validity_left):
    attrs = dict(accept_attributes(Remaining(time_left, data_left, "1M/2M", now + validity_left), now, 300, b"c"))
    assert attrs["Session-Timeout"] == min(time_left, validity_left)  # RFC 2865 §5.27
    assert attrs["Acct-Interim-Interval"] == 300 and attrs["Class"] == b"c"
    if data_left is None:
        assert "Mikrotik-Total-Limit" not in attrs
    else:
        assert counter64(attrs["Mikrotik-Total-Limit"], attrs["Mikrotik-Total-Limit-Gigawords"]) == data_left


@pytest.mark.parametrize("rate", ["2M/4M", "512k", "1M/2M 2M/4M 512k/1M 10/10 8",
                                  "1M/2M 2M/4M 512k/1M 10/10 8 64k/64k"])
def test_rate_limits_in_mikrotik_syntax_are_accepted(rate):
    HotspotPackage("p", "n", 60, None, rate, 1)


@pytest.mark.parametrize(("kwargs", "word"), [
    ({"rate_limit": "fast"}, "Rate-Limit"), ({"time_seconds": 0}, "time"), ({"data_octets": 0}, "data"),
    ({"code": "bad code"}, "package code"), ({"devices": 0}, "devices"),
])
def test_bad_packages_are_refused(kwargs, word):
    values = {"code": "p", "name": "n", "time_seconds": 60, "data_octets": None, "rate_limit": "1M",
              "validity_hours": 1}
    values.update(kwargs)
    with pytest.raises(InvalidPackage, match=word):
        HotspotPackage(**values)  # type: ignore[arg-type]
