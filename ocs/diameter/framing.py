"""Framing a Diameter byte stream into messages (RFC 6733 §3), sans-IO and bounded (h2's FrameBuffer).

`MessageBuffer` is fed the bytes a connection delivers and iterated for whole messages only. The length in each
header is checked as soon as its four octets are there, against `max_length`: a connection not yet identified by
its CER gets a small bound (`max_cer_size`), so an anonymous peer can never make us hold a 1 MiB partial frame.
A header that cannot start a Diameter message, or announces more than the bound, raises `FramingError`: the
stream cannot be resynchronised and the connection is closed.
"""

from __future__ import annotations

from ocs.diameter.errors import FramingError
from ocs.diameter.message import MAX_MESSAGE_LENGTH, message_length


class MessageBuffer:
    __slots__ = ("_buf", "_pos", "max_length")

    def __init__(self, max_length: int = MAX_MESSAGE_LENGTH) -> None:
        self._buf = bytearray()
        self._pos = 0
        self.max_length = max_length

    def __len__(self) -> int:
        """Octets held and not yet handed out."""
        return len(self._buf) - self._pos

    def feed(self, data: bytes) -> None:
        self._buf += data

    def __iter__(self) -> MessageBuffer:
        return self

    def __next__(self) -> bytes:
        buf, pos = self._buf, self._pos
        available = len(buf) - pos
        if available >= 4:
            length = message_length(buf[pos:pos + 4])
            if length > self.max_length:
                raise FramingError(f"message length {length} over the bound of {self.max_length}")
            if available >= length:
                self._pos = pos + length
                return bytes(buf[pos:pos + length])
        # not a whole message left: drop what was handed out, once per batch (not per message)
        if pos:
            del buf[:pos]
            self._pos = 0
        raise StopIteration
