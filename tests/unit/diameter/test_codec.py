"""Codec: header and AVP layout (RFC 6733 §3, §4.1), data formats (§4.2, §4.3), errors with result codes."""

import ipaddress
import struct

import pytest

from ocs.diameter import avp
from ocs.diameter.avp import Avp, decode_avps
from ocs.diameter.codes import (
    DIAMETER_INVALID_AVP_LENGTH,
    DIAMETER_INVALID_AVP_VALUE,
    DIAMETER_INVALID_HDR_BITS,
    DIAMETER_INVALID_MESSAGE_LENGTH,
    DIAMETER_UNSUPPORTED_VERSION,
)
from ocs.diameter.errors import DiameterError, FramingError
from ocs.diameter.message import Message, message_length


def test_avp_layout_with_padding():
    # RFC 6733 §4.1: code, flags, 24-bit length (without padding), data padded to 32 bits
    a = avp.utf8(264, "abcde")
    assert a.encode() == struct.pack(">II", 264, (0x40 << 24) | 13) + b"abcde\0\0\0"


def test_vendor_avp_layout():
    a = avp.u32(1032, 1004, vendor_id=10415)
    assert a.encode() == struct.pack(">IIII", 1032, (0xC0 << 24) | 16, 10415, 1004)
    assert decode_avps(a.encode(), 0, 16) == [a]


@pytest.mark.parametrize(("make", "read", "value"), [
    (avp.u32, "u32", 0xFFFFFFFF),
    (avp.i32, "i32", -5),
    (avp.u64, "u64", 2**64 - 1),
    (avp.i64, "i64", -(2**63)),
    (avp.f32, "f32", 1.5),
    (avp.f64, "f64", -2.25),
    (avp.utf8, "utf8", "ünïcode"),
    (avp.time, "time", 1_700_000_000),
])
def test_typed_round_trip(make, read, value):
    a = make(1, value)
    (b,) = decode_avps(a.encode(), 0, len(a.encode()))
    assert getattr(b, read) == value


def test_time_after_2036_wraps_into_era_1():
    # RFC 6733 §4.3.1: the NTP seconds wrap on 2036-02-07; values below 2^31 are read as the next era
    unix_2038 = 2**31 + 1000
    a = avp.time(55, unix_2038)
    assert int.from_bytes(a.data, "big") < 2**31
    assert a.time == unix_2038
    assert avp.time(55, 1_700_000_000).time == 1_700_000_000


def test_address_v4_v6():
    a = avp.address(257, "192.0.2.1")
    assert a.data == b"\x00\x01\xc0\x00\x02\x01"
    assert a.address == ipaddress.ip_address("192.0.2.1")
    b = avp.address(257, "2001:db8::1")
    assert b.data[:2] == b"\x00\x02" and b.address == ipaddress.ip_address("2001:db8::1")


def test_grouped_nesting():
    g = avp.grouped(456, [avp.u32(432, 7), avp.grouped(446, [avp.u64(421, 1234)])])
    (back,) = decode_avps(g.encode(), 0, len(g.encode()))
    assert back.find(432).u32 == 7
    assert back.find(446).find(421).u64 == 1234


def test_wrong_size_gives_5014_with_the_avp():
    a = Avp(268, 0x40, 0, b"\x00\x00\x07")
    with pytest.raises(DiameterError) as e:
        _ = a.u32
    assert e.value.result_code == DIAMETER_INVALID_AVP_LENGTH and e.value.failed_avp is a


def test_bad_utf8_gives_5004():
    with pytest.raises(DiameterError) as e:
        _ = Avp(1, 0x40, 0, b"\xff\xfe").utf8
    assert e.value.result_code == DIAMETER_INVALID_AVP_VALUE


def test_avp_length_beyond_buffer_is_5014():
    raw = struct.pack(">II", 263, (0x40 << 24) | 40) + b"abcd"
    with pytest.raises(DiameterError) as e:
        decode_avps(raw, 0, len(raw))
    assert e.value.result_code == DIAMETER_INVALID_AVP_LENGTH
    assert e.value.failed_avp is not None and e.value.failed_avp.code == 263


def test_unknown_avp_round_trips_byte_exact():
    raw_avp = struct.pack(">III", 99999, (0xA0 << 24) | 15, 12345) + b"xyz\0"  # V+P, odd length
    msg = Message(272, 4, avps=[avp.utf8(263, "s")])
    data = msg.encode()
    data = data[:1] + (len(data) + len(raw_avp)).to_bytes(3, "big") + data[4:] + raw_avp
    back = Message.decode(data)
    assert back.avps[-1] == Avp(99999, 0xA0, 12345, b"xyz")
    back.append(back.avps.pop())  # touch the AVPs so encode really re-encodes
    assert back.encode() == data


def test_message_round_trip_and_header_fields():
    msg = Message(272, 4, 0xC0, 0x01020304, 0x0A0B0C0D, [avp.utf8(263, "x;1"), avp.u32(416, 2)])
    data = msg.encode()
    assert data[0] == 1 and int.from_bytes(data[1:4], "big") == len(data)
    back = Message.decode(data)
    assert back == msg and back.is_request and not back.is_error
    assert back.hop_by_hop == 0x01020304 and back.end_to_end == 0x0A0B0C0D


def test_answer_keeps_identifiers_and_proxiable():
    req = Message(272, 4, 0xC0, 5, 6)
    ans = req.answer([avp.u32(268, 2001)])
    assert (ans.flags, ans.hop_by_hop, ans.end_to_end, ans.command_code) == (0x40, 5, 6, 272)
    assert req.answer(error=True).flags == 0x60


def test_header_errors():
    good = Message(280, 0, 0x80, 1, 1, [avp.utf8(264, "h")]).encode()
    with pytest.raises(DiameterError) as e:
        Message.decode(b"\x02" + good[1:])
    assert e.value.result_code == DIAMETER_UNSUPPORTED_VERSION
    with pytest.raises(DiameterError) as e:
        Message.decode(good + b"\0\0\0\0")
    assert e.value.result_code == DIAMETER_INVALID_MESSAGE_LENGTH
    with pytest.raises(DiameterError) as e:
        Message.decode(good[:4] + b"\xa0" + good[5:])  # R and E together
    assert e.value.result_code == DIAMETER_INVALID_HDR_BITS


def test_framing():
    assert message_length(b"\x01\x00\x00\x14") == 20
    for bad in (b"\x02\x00\x00\x14", b"\x01\x00\x00\x10", b"\x01\x00\x00\x15"):
        with pytest.raises(FramingError):
            message_length(bad)
