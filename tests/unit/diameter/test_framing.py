"""MessageBuffer (RFC 6733 §3 framing): any split of a stream yields the same messages; bounds are enforced
as soon as a header is there."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocs.diameter import avp
from ocs.diameter.errors import FramingError
from ocs.diameter.framing import MessageBuffer
from ocs.diameter.message import Message

messages = st.lists(
    st.builds(lambda code, hbh, payload: Message(code, 4, 0x80, hbh, hbh, [avp.octets(999, payload)]).encode(),
              st.integers(1, 0xFFFFFF), st.integers(0, 0xFFFFFFFF), st.binary(max_size=300)),
    min_size=1, max_size=12)


@given(messages, st.data())
def test_any_split_yields_the_same_messages(frames, data):
    stream = b"".join(frames)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(stream)), max_size=20)))
    buffer = MessageBuffer()
    out = []
    last = 0
    for cut in [*cuts, len(stream)]:
        buffer.feed(stream[last:cut])
        last = cut
        out.extend(buffer)
    assert out == frames
    assert len(buffer) == 0


@given(st.integers(4100 // 4, (1 << 20) // 4).map(lambda n: n * 4))
def test_a_header_over_the_bound_is_refused_before_the_frame_arrives(length):
    buffer = MessageBuffer(4096)
    buffer.feed(bytes([1]) + length.to_bytes(3, "big"))  # only the first word of the header
    with pytest.raises(FramingError):
        next(buffer)


def test_a_frame_within_the_bound_waits_for_its_bytes():
    frame = Message(257, 0, 0x80, 1, 1, [avp.octets(999, b"x" * 100)]).encode()
    buffer = MessageBuffer(4096)
    buffer.feed(frame[:50])
    assert list(buffer) == []
    buffer.feed(frame[50:])
    assert list(buffer) == [frame]


@pytest.mark.parametrize("head", [b"\x02\x00\x00\x14", b"\x01\x00\x00\x13", b"\x01\x00\x00\x10"])
def test_a_stream_that_cannot_be_diameter_is_refused(head):
    buffer = MessageBuffer()
    buffer.feed(head)
    with pytest.raises(FramingError):
        next(buffer)
