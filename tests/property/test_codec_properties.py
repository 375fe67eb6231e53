"""Hypothesis properties of the Diameter codec (RFC 6733 §3, §4).

1. Round trip: any message built from AVPs encodes and decodes back to itself.
2. Hostile input reaches the AVP parser: arbitrary bytes almost never get past the header (version, length),
   so the inputs here are *wire-shaped*: a valid header (RFC 6733 §3) over AVPs whose headers are mostly
   right, with random payloads, nested groups (§4.4) and lengths that are sometimes off by a little or a lot,
   and mutations of valid messages (a flipped octet, a rewritten AVP length, a cut). On them:
   - decoding and every typed reader, at every depth, raise nothing but `DiameterError`; a bad AVP length
     raises 5014 with the offending AVP for Failed-AVP (§7.5);
   - what decodes re-encodes to a fixed point, and a canonical message (zero padding, exact lengths)
     re-encodes byte for byte, groups included (unknown AVPs round-trip exactly);
   - an AVP length shorter than its header or running past its message or group is refused with 5014,
     naming that AVP (§4.1, §7.5), at the top level and inside a group.
   Each property counts the paths its examples took (`hypothesis.event` for the statistics, and a Counter
   the test asserts on), so a strategy that stops reaching the AVP parser or the groups fails the test.
"""

from __future__ import annotations

import contextlib
import struct
from collections import Counter
from collections.abc import Callable

from hypothesis import HealthCheck, event, given, settings, target
from hypothesis import strategies as st

from ocs.diameter.avp import Avp, decode_avps, encode_avps
from ocs.diameter.codes import DIAMETER_INVALID_AVP_LENGTH
from ocs.diameter.errors import DiameterError
from ocs.diameter.message import HEADER_LENGTH, Message

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

READERS = ("u32", "u64", "i32", "i64", "f32", "f64", "utf8", "time", "address")
MAX_DEPTH = 4
RUNS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@given(messages)
def test_decode_encode_round_trip(msg: Message) -> None:
    data = msg.encode()
    back = Message.decode(data)
    assert back == msg
    assert back.encode() == data


# --- wire-shaped inputs ----------------------------------------------------------------------------------

# lengths a hostile or buggy peer writes: exact most of the time, else a little or a lot off
_LENGTH_ERRORS = st.sampled_from([1, -1, 2, 3, 4, -4, -7, -8, -12, 1 << 23, 0xFFFFFF])


@st.composite
def wire_avp(draw: st.DrawFn, depth: int = 0, canonical: bool = False) -> bytes:
    """One AVP on the wire: header (RFC 6733 §4.1) + payload + padding. Some payloads are AVPs themselves
    (a Grouped value, §4.4), down to MAX_DEPTH; unless `canonical`, the length field is sometimes wrong and
    the padding sometimes missing or not zero."""
    vendor = draw(st.booleans())
    fl = draw(flags) | (0x80 if vendor else 0)
    code = draw(st.one_of(st.sampled_from([0, 1, 258, 263, 264, 268, 279, 443, 456, 1400]),
                          st.integers(0, 2**32 - 1)))
    if depth < MAX_DEPTH and draw(st.integers(0, 2)) == 0:
        data = b"".join(draw(st.lists(wire_avp(depth + 1, canonical), min_size=1, max_size=3)))
    else:
        data = draw(st.one_of(st.binary(max_size=20), st.sampled_from([b"", b"\0\1", b"\0\1\x7f\0\0\1",
                                                                         b"\0\2" + bytes(16), b"\xff\xfe"])))
    head = 12 if vendor else 8
    length = head + len(data)
    pad = b"\0" * (-len(data) % 4)
    if not canonical:
        if draw(st.integers(0, 4)) == 0:
            length = min(max(length + draw(_LENGTH_ERRORS), 0), 0xFFFFFF)
        if pad and draw(st.integers(0, 5)) == 0:
            pad = draw(st.sampled_from([b"", b"\1" * len(pad)]))
    header = struct.pack(">II", code, (fl << 24) | length) + (struct.pack(">I", draw(st.integers(0, 2**32 - 1)))
                                                              if vendor else b"")
    return header + data + pad


def _frame(body: bytes, flags_: int, command: int, app: int, hbh: int, e2e: int) -> bytes:
    """A message header that passes RFC 6733 §3's checks over `body` (the length counts the whole message)."""
    body += b"\0" * (-len(body) % 4)
    return struct.pack(">IIIII", (1 << 24) | (HEADER_LENGTH + len(body)), (flags_ << 24) | command, app, hbh,
                       e2e) + body


@st.composite
def mutate(draw: st.DrawFn, body: bytes) -> bytes:
    """A valid AVP region changed the way a fuzzer would: an octet flipped, an AVP length rewritten, a cut,
    or octets inserted (the header is framed again around it afterwards)."""
    if not body:
        return body
    kind = draw(st.sampled_from(["flip", "length", "cut", "insert", "none"]))
    event(f"mutation: {kind}")
    if kind == "flip":
        i = draw(st.integers(0, len(body) - 1))
        return body[:i] + bytes([body[i] ^ draw(st.integers(1, 255))]) + body[i + 1:]
    if kind == "length":  # an AVP header starts on a 4-octet boundary; its length is octets 5..7
        i = draw(st.integers(0, (len(body) - 1) // 4)) * 4
        if i + 8 > len(body):
            return body
        return body[:i + 5] + draw(st.integers(0, 0xFFFFFF)).to_bytes(3, "big") + body[i + 8:]
    if kind == "cut":
        return body[:draw(st.integers(0, len(body) - 1))]
    if kind == "insert":
        i = draw(st.integers(0, len(body)))
        return body[:i] + draw(st.binary(min_size=1, max_size=8)) + body[i:]
    return body


def _header_fields(header_flags: list[int]) -> st.SearchStrategy[tuple[int, int, int, int, int]]:
    return st.tuples(st.sampled_from(header_flags), st.integers(0, 2**24 - 1), st.integers(0, 2**32 - 1),
                     st.integers(0, 2**32 - 1), st.integers(0, 2**32 - 1))


header_fields = _header_fields([0x80, 0xC0, 0x40, 0x00, 0x20, 0x10, 0xA0])   # 0xA0: E in a request (5013)
valid_header_fields = _header_fields([0x80, 0xC0, 0x40, 0x00, 0x60])


@st.composite
def wire_messages(draw: st.DrawFn) -> bytes:
    """A valid header over wire-shaped AVPs, or over a mutated valid message's AVPs."""
    if draw(st.booleans()):
        body = b"".join(draw(st.lists(wire_avp(), min_size=1, max_size=5)))
        event("source: wire-shaped AVPs")
    else:
        body = draw(messages).encode()[HEADER_LENGTH:]
        event("source: mutated valid message")
    return _frame(draw(mutate(body)), *draw(header_fields))


@st.composite
def canonical_messages(draw: st.DrawFn) -> bytes:
    return _frame(b"".join(draw(st.lists(wire_avp(canonical=True), max_size=5))), *draw(valid_header_fields))


# --- walking what was decoded ------------------------------------------------------------------------------


def _walk(items: list[Avp], depth: int, seen: Counter[str]) -> int:
    """Read every AVP with every reader and descend into every group; returns the deepest group level that
    parsed. Only DiameterError may come out of a reader; a 5014 carries the offending AVP."""
    deepest = depth
    for a in items:
        seen["avps read"] += 1
        for reader in READERS:
            try:
                getattr(a, reader)
            except DiameterError:
                seen["reader refused"] += 1
        try:
            members = a.grouped
        except DiameterError as e:
            _check_length_error(e, seen, depth + 1)
            continue
        if members:
            seen[f"group parsed at depth {depth + 1}"] += 1
            deepest = max(deepest, _walk(members, depth + 1, seen))
    return deepest


def _check_length_error(e: DiameterError, seen: Counter[str], depth: int) -> None:
    assert e.result_code == DIAMETER_INVALID_AVP_LENGTH, e
    assert isinstance(e.failed_avp, Avp), e   # RFC 6733 §7.5: the answer names it in Failed-AVP
    seen[f"5014 at depth {depth}"] += 1


def _decode_and_walk(data: bytes, seen: Counter[str]) -> Message | None:
    try:
        msg = Message.decode(data)
    except DiameterError:
        seen["header refused"] += 1
        return None
    seen["header accepted"] += 1
    try:
        items = msg.avps
    except DiameterError as e:
        _check_length_error(e, seen, 0)
        return None
    seen["AVPs parsed"] += 1
    deepest = _walk(items, 0, seen)
    event(f"deepest group parsed: {deepest}")
    target(float(deepest), label="group depth reached")
    return msg


def _run(prop: Callable[[], None], seen: Counter[str], minimum: dict[str, int]) -> None:
    """Run the property, then check the examples really took the paths it is about."""
    prop()
    for path, least in minimum.items():
        assert seen[path] >= least, f"only {seen[path]} examples reached {path!r}: {dict(seen)}"


def test_wire_shaped_messages_raise_only_codec_errors() -> None:
    seen: Counter[str] = Counter()

    @RUNS
    @given(wire_messages())
    def prop(data: bytes) -> None:
        _decode_and_walk(data, seen)

    _run(prop, seen, {"header accepted": 180, "AVPs parsed": 100, "group parsed at depth 1": 50,
                      "group parsed at depth 2": 10, "5014 at depth 0": 12, "5014 at depth 1": 10,
                      "reader refused": 100})


def test_decoded_messages_re_encode_to_a_fixed_point() -> None:
    seen: Counter[str] = Counter()

    @RUNS
    @given(wire_messages())
    def prop(data: bytes) -> None:
        msg = _decode_and_walk(data, seen)
        if msg is None:
            return
        once = Message(msg.command_code, msg.application_id, msg.flags, msg.hop_by_hop, msg.end_to_end,
                       msg.avps).encode()
        # decoding loses nothing but padding: the AVPs re-encoded are the input, octet for octet, except
        # the padding octets of the top-level AVPs (a group's value is kept as received)
        assert len(once) == len(data)
        assert _without_padding(once) == _without_padding(data)
        seen["same octets but padding"] += 1
        again = Message.decode(once)
        assert again == msg
        assert again.encode() == once
        # every group normalises the same way: members re-encoded, decoded again, are the same AVPs
        for a in msg.avps:
            with contextlib.suppress(DiameterError):
                members = a.grouped
                assert decode_avps(encode_avps(members), 0, len(encode_avps(members))) == members
                seen["group re-encoded"] += 1

    _run(prop, seen, {"AVPs parsed": 100, "same octets but padding": 100, "group re-encoded": 30})


def _without_padding(message: bytes) -> bytes:
    """The message with the padding octets of its top-level AVPs set to zero, walking the AVP headers of
    `message` itself (the re-encoded one, whose lengths are exact)."""
    out = bytearray(message)
    pos = HEADER_LENGTH
    while pos + 8 <= len(out):
        length = int.from_bytes(out[pos + 5:pos + 8], "big")
        padded = (length + 3) & ~3
        out[pos + length:pos + padded] = bytes(padded - length)
        pos += max(padded, 8)
    return bytes(out)


def test_canonical_messages_round_trip_byte_for_byte() -> None:
    seen: Counter[str] = Counter()

    @RUNS
    @given(canonical_messages())
    def prop(data: bytes) -> None:
        msg = Message.decode(data)
        assert Message(msg.command_code, msg.application_id, msg.flags, msg.hop_by_hop, msg.end_to_end,
                       msg.avps).encode() == data
        seen["AVPs parsed"] += 1

        def exact(items: list[Avp], depth: int) -> None:
            for a in items:
                assert a.encode() == _reencode(a)
                with contextlib.suppress(DiameterError):
                    members = a.grouped
                    if members and encode_avps(members) == a.data:
                        seen[f"group exact at depth {depth + 1}"] += 1
                        exact(members, depth + 1)
        exact(msg.avps, 0)

    _run(prop, seen, {"AVPs parsed": 250, "group exact at depth 1": 50, "group exact at depth 2": 10})


def _reencode(a: Avp) -> bytes:
    return Avp(a.code, a.flags, a.vendor_id, bytes(a.data)).encode()


def test_wire_shaped_avp_sequences() -> None:
    seen: Counter[str] = Counter()

    @RUNS
    @given(st.lists(wire_avp(), min_size=1, max_size=4).map(b"".join).flatmap(mutate))
    def prop(data: bytes) -> None:
        try:
            items = decode_avps(data, 0, len(data))
        except DiameterError as e:
            _check_length_error(e, seen, 0)
            return
        seen["AVPs parsed"] += 1
        _walk(items, 0, seen)

    _run(prop, seen, {"AVPs parsed": 25, "5014 at depth 0": 60, "group parsed at depth 1": 8})


@st.composite
def misfitting(draw: st.DrawFn) -> tuple[bytes, int, bool]:
    """(message, code of the AVP whose length does not fit, whether it sits inside a group): canonical AVPs
    of which one gets a length below its header size or past the end of what contains it."""
    items = draw(st.lists(wire_avp(canonical=True), min_size=1, max_size=4))
    i = draw(st.integers(0, len(items) - 1))
    a = items[i]
    head = 12 if a[4] & 0x80 else 8
    if draw(st.booleans()):
        length = draw(st.integers(0, head - 1))
        event("misfit: shorter than its header")
    else:
        length = sum(map(len, items[i:])) + draw(st.integers(1, 64))
        event("misfit: past the end of its container")
    items[i] = a[:5] + length.to_bytes(3, "big") + a[8:]
    body = b"".join(items)
    inside = draw(st.booleans())
    if inside:  # Multiple-Services-Credit-Control (456) holding them
        body = struct.pack(">II", 456, (0x40 << 24) | (8 + len(body))) + body
    return _frame(body, *draw(valid_header_fields)), int.from_bytes(a[:4], "big"), inside


def test_avp_lengths_that_do_not_fit_are_refused() -> None:
    seen: Counter[str] = Counter()

    @RUNS
    @given(misfitting())
    def prop(case: tuple[bytes, int, bool]) -> None:
        data, code, inside = case
        msg = Message.decode(data)
        try:
            items = msg.avps
            if inside:
                assert len(items) == 1
                members = items[0].grouped
                raise AssertionError(f"a member whose length does not fit was accepted: {members}")
        except DiameterError as e:
            _check_length_error(e, seen, int(inside))
            assert e.failed_avp is not None and e.failed_avp.code == code
            return
        raise AssertionError(f"an AVP whose length does not fit was accepted: {items}")

    _run(prop, seen, {"5014 at depth 0": 60, "5014 at depth 1": 60})


@given(st.lists(avps, min_size=1, max_size=6), st.data())
def test_a_constant_avp_encodes_and_compares_as_the_avp_it_was_made_from(items, data):
    """Issue 15: answers carry AVPs encoded once (avp.constant); a message mixing them is byte-identical."""
    from ocs.diameter.avp import ConstantAvp, constant

    chosen = data.draw(st.lists(st.booleans(), min_size=len(items), max_size=len(items)))
    mixed = [constant(a) if c else a for a, c in zip(items, chosen, strict=True)]
    assert all(type(m) is ConstantAvp for m, c in zip(mixed, chosen, strict=True) if c)
    assert mixed == items and encode_avps(mixed) == encode_avps(items)
    m = Message(318, 16777251, 0x40, 1, 2, mixed)
    assert m.encode() == Message(318, 16777251, 0x40, 1, 2, items).encode()
    assert Message.decode(m.encode()).avps == items
