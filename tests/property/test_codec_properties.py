"""Hypothesis: encode/decode round trips, and arbitrary bytes never raise anything but the codec's errors."""

import contextlib

from hypothesis import given, settings
from hypothesis import strategies as st

from ocs.diameter.avp import Avp, decode_avps, encode_avps
from ocs.diameter.errors import DiameterError
from ocs.diameter.message import Message

flags = st.integers(0, 255).map(lambda f: f & ~0x80)  # V follows vendor_id
leaf = st.builds(
    lambda code, fl, vendor, data: Avp(code, (fl | 0x80) if vendor else fl, vendor, data),
    st.integers(0, 2**32 - 1), flags, st.integers(0, 2**32 - 1), st.binary(max_size=40))
avps = st.recursive(
    leaf, lambda inner: st.builds(
        lambda code, vendor, members: Avp(code, 0x40 | (0x80 if vendor else 0), vendor, encode_avps(members)),
        st.integers(0, 2**32 - 1), st.integers(0, 3), st.lists(inner, max_size=4)),
    max_leaves=12)
messages = st.builds(
    Message, st.integers(0, 2**24 - 1), st.integers(0, 2**32 - 1), st.sampled_from([0x80, 0xC0, 0x40, 0x60, 0x00]),
    st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1), st.lists(avps, max_size=8))


@given(messages)
def test_decode_encode_round_trip(msg):
    data = msg.encode()
    back = Message.decode(data)
    assert back == msg
    assert back.encode() == data


def _walk(items):
    for a in items:
        with contextlib.suppress(DiameterError):
            _walk(a.grouped)
        for reader in ("u32", "u64", "i32", "i64", "f32", "f64", "utf8", "time", "address"):
            with contextlib.suppress(DiameterError):
                getattr(a, reader)


@settings(max_examples=300)
@given(st.binary(max_size=200))
def test_arbitrary_bytes_raise_only_codec_errors(data):
    try:
        msg = Message.decode(data)
        _walk(msg.avps)
    except DiameterError:
        pass


@settings(max_examples=300)
@given(st.binary(max_size=120))
def test_arbitrary_avp_bytes(data):
    with contextlib.suppress(DiameterError):
        _walk(decode_avps(data, 0, len(data)))
