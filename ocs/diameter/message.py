"""Diameter messages (RFC 6733 §3): header plus AVPs, decoded lazily.

`Message.decode` checks the header and keeps the bytes; the AVP headers are split on first access to `avps`,
and AVP values only when a handler reads them. `encode` writes the header and the AVPs into one buffer.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Iterator

from ocs.diameter.avp import Avp, decode_avps, find, find_all, write_avps
from ocs.diameter.codes import (
    DIAMETER_INVALID_HDR_BITS,
    DIAMETER_INVALID_MESSAGE_LENGTH,
    DIAMETER_UNSUPPORTED_VERSION,
    FLAG_ERROR,
    FLAG_PROXIABLE,
    FLAG_REQUEST,
    FLAG_RETRANSMIT,
)
from ocs.diameter.errors import DiameterError, FramingError

HEADER_LENGTH = 20
MAX_MESSAGE_LENGTH = 1 << 20  # a bound we accept; RFC 6733 allows up to 2^24-1
_HEADER = struct.Struct(">IIIII")


def message_length(head: bytes | bytearray | memoryview) -> int:
    """Length of the message starting at head[0:4], for framing a TCP stream (RFC 6733 §3).

    A stream whose next header cannot be a Diameter message is unrecoverable: FramingError closes it.
    """
    word = int.from_bytes(head[0:4], "big")
    version, length = word >> 24, word & 0xFFFFFF
    if version != 1:
        raise FramingError(f"version {version}")
    if length < HEADER_LENGTH or length & 3 or length > MAX_MESSAGE_LENGTH:
        raise FramingError(f"message length {length}")
    return length


class Message:
    """A Diameter message. `avps` is a list that may be appended to when building."""

    __slots__ = ("command_code", "application_id", "flags", "hop_by_hop", "end_to_end", "_avps", "_raw")

    def __init__(
        self,
        command_code: int,
        application_id: int,
        flags: int = FLAG_REQUEST | FLAG_PROXIABLE,
        hop_by_hop: int = 0,
        end_to_end: int = 0,
        avps: Iterable[Avp] = (),
    ) -> None:
        self.command_code = command_code
        self.application_id = application_id
        self.flags = flags
        self.hop_by_hop = hop_by_hop
        self.end_to_end = end_to_end
        self._avps: list[Avp] | None = list(avps)
        self._raw: bytes | None = None

    # --- header -------------------------------------------------------------------------------------------
    @property
    def is_request(self) -> bool:
        return bool(self.flags & FLAG_REQUEST)

    @property
    def is_error(self) -> bool:
        return bool(self.flags & FLAG_ERROR)

    @property
    def is_retransmit(self) -> bool:
        return bool(self.flags & FLAG_RETRANSMIT)

    # --- AVPs ---------------------------------------------------------------------------------------------
    @property
    def avps(self) -> list[Avp]:
        avps = self._avps
        if avps is None:
            raw = self._raw
            assert raw is not None
            avps = self._avps = decode_avps(raw, HEADER_LENGTH, len(raw))
            self._raw = None
        return avps

    def find(self, code: int, vendor_id: int = 0) -> Avp | None:
        return find(self.avps, code, vendor_id)

    def find_all(self, code: int, vendor_id: int = 0) -> Iterator[Avp]:
        return find_all(self.avps, code, vendor_id)

    def append(self, avp: Avp) -> Message:
        self.avps.append(avp)
        return self

    def extend(self, avps: Iterable[Avp]) -> Message:
        self.avps.extend(avps)
        return self

    # --- wire ---------------------------------------------------------------------------------------------
    @classmethod
    def decode(cls, buf: bytes) -> Message:
        """Check the header (RFC 6733 §3) and keep the AVP bytes for lazy decoding."""
        if len(buf) < HEADER_LENGTH:
            raise DiameterError(DIAMETER_INVALID_MESSAGE_LENGTH, "shorter than a header")
        w0, w1, app, hbh, e2e = _HEADER.unpack_from(buf, 0)
        version, length = w0 >> 24, w0 & 0xFFFFFF
        if version != 1:
            raise DiameterError(DIAMETER_UNSUPPORTED_VERSION, f"version {version}")
        if length != len(buf) or length & 3:
            raise DiameterError(DIAMETER_INVALID_MESSAGE_LENGTH, f"length {length} for {len(buf)} octets")
        flags = w1 >> 24
        # RFC 6733 §3: E is never set in a request; reserved bits are ignored by the receiver.
        if flags & FLAG_REQUEST and flags & FLAG_ERROR:
            raise DiameterError(DIAMETER_INVALID_HDR_BITS, "E bit set in a request")
        msg = cls.__new__(cls)
        msg.command_code = w1 & 0xFFFFFF
        msg.application_id = app
        msg.flags = flags
        msg.hop_by_hop = hbh
        msg.end_to_end = e2e
        msg._avps = None
        msg._raw = bytes(buf)
        return msg

    def encode(self) -> bytes:
        raw = self._raw
        if raw is not None:  # AVPs never touched: reuse the received bytes behind a fresh header
            return _HEADER.pack(
                (1 << 24) | len(raw), (self.flags << 24) | self.command_code, self.application_id,
                self.hop_by_hop, self.end_to_end,
            ) + raw[HEADER_LENGTH:]
        parts = [b""]
        length = HEADER_LENGTH + write_avps(parts, self.avps)
        parts[0] = _HEADER.pack(
            (1 << 24) | length,
            (self.flags << 24) | self.command_code,
            self.application_id,
            self.hop_by_hop,
            self.end_to_end,
        )
        return b"".join(parts)

    # --- answers ------------------------------------------------------------------------------------------
    def answer(self, avps: Iterable[Avp] = (), *, error: bool = False) -> Message:
        """The answer skeleton: same command, application and identifiers; R cleared, P kept (RFC 6733 §6.2)."""
        flags = self.flags & FLAG_PROXIABLE
        if error:
            flags |= FLAG_ERROR
        return Message(self.command_code, self.application_id, flags, self.hop_by_hop, self.end_to_end, avps)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Message):
            return NotImplemented
        return (
            self.command_code == other.command_code
            and self.application_id == other.application_id
            and self.flags == other.flags
            and self.hop_by_hop == other.hop_by_hop
            and self.end_to_end == other.end_to_end
            and self.avps == other.avps
        )

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        kind = "R" if self.is_request else "A"
        return (f"Message(cmd={self.command_code}{kind}, app={self.application_id}, flags=0x{self.flags:02x}, "
                f"hbh={self.hop_by_hop}, e2e={self.end_to_end}, avps={len(self.avps)})")
