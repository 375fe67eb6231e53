"""AVPs: the wire layout (RFC 6733 §4.1) and the basic data formats (§4.2, §4.3).

An `Avp` is a frozen value holding its code, flags, vendor and raw payload (`data`, without padding). Values are
decoded on demand by the typed accessors (`u32`, `utf8`, `grouped`, ...), so a message parse touches only the
AVP headers and a handler pays only for what it reads. Unknown AVPs therefore survive a decode/encode round trip
byte-exact. Malformed content raises `DiameterError` carrying the result code and the offending AVP.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from ocs.diameter.codes import (
    AVP_MANDATORY,
    AVP_VENDOR,
    DIAMETER_INVALID_AVP_LENGTH,
    DIAMETER_INVALID_AVP_VALUE,
)
from ocs.diameter.errors import DiameterError

_HDR = struct.Struct(">II")
_HDR_V = struct.Struct(">III")
_U32 = struct.Struct(">I")
_I32 = struct.Struct(">i")
_U64 = struct.Struct(">Q")
_I64 = struct.Struct(">q")
_F32 = struct.Struct(">f")
_F64 = struct.Struct(">d")
_PAD = (b"", b"\0\0\0", b"\0\0", b"\0")

# RFC 6733 §4.3.1 Time: seconds since 1900-01-01 (NTP era 0); Unix epoch offset.
NTP_UNIX_OFFSET = 2208988800

# RFC 6733 §4.3.1 Address: IANA address family numbers.
ADDRESS_FAMILY_IPV4 = 1
ADDRESS_FAMILY_IPV6 = 2


class Avp(NamedTuple):
    """An immutable value; a tuple underneath, so that the parse of a message (one Avp per AVP header) costs a
    tuple each and no per-field assignments."""

    code: int
    flags: int
    vendor_id: int
    data: bytes

    # --- wire ---------------------------------------------------------------------------------------------
    def encode(self) -> bytes:
        code, flags, vendor_id, data = self  # one unpack, not four property lookups
        if vendor_id or flags & AVP_VENDOR:
            head = _HDR_V.pack(code, ((flags | AVP_VENDOR) << 24) | (12 + len(data)), vendor_id)
        else:
            head = _HDR.pack(code, (flags << 24) | (8 + len(data)))
        return head + data + _PAD[len(data) & 3]

    @property
    def mandatory(self) -> bool:
        return bool(self.flags & AVP_MANDATORY)

    # --- typed readers (RFC 6733 §4.2 basic formats, §4.3 derived formats) --------------------------------
    def _fixed(self, size: int) -> bytes:
        if len(self.data) != size:
            raise DiameterError(
                DIAMETER_INVALID_AVP_LENGTH, f"AVP {self.code} needs {size} octets, has {len(self.data)}", self
            )
        return self.data

    @property
    def u32(self) -> int:
        return int(_U32.unpack(self._fixed(4))[0])

    @property
    def i32(self) -> int:
        return int(_I32.unpack(self._fixed(4))[0])

    @property
    def u64(self) -> int:
        return int(_U64.unpack(self._fixed(8))[0])

    @property
    def i64(self) -> int:
        return int(_I64.unpack(self._fixed(8))[0])

    @property
    def f32(self) -> float:
        return float(_F32.unpack(self._fixed(4))[0])

    @property
    def f64(self) -> float:
        return float(_F64.unpack(self._fixed(8))[0])

    @property
    def utf8(self) -> str:
        """UTF8String, DiameterIdentity, DiameterURI (RFC 6733 §4.3.1)."""
        try:
            return self.data.decode()
        except UnicodeDecodeError:
            raise DiameterError(DIAMETER_INVALID_AVP_VALUE, f"AVP {self.code} is not UTF-8", self) from None

    @property
    def time(self) -> int:
        """Time (RFC 6733 §4.3.1) as Unix seconds. Era 0 only; values below 2036 wrap per RFC 5905 §6."""
        ntp = self.u32
        if ntp < 0x80000000:  # RFC 6733 §4.3.1: after 2036 the seconds wrap into NTP era 1
            ntp += 1 << 32
        return ntp - NTP_UNIX_OFFSET

    @property
    def address(self) -> ipaddress.IPv4Address | ipaddress.IPv6Address:
        data = self.data
        if len(data) < 2:
            raise DiameterError(DIAMETER_INVALID_AVP_LENGTH, f"Address AVP {self.code} too short", self)
        family = (data[0] << 8) | data[1]
        if family == ADDRESS_FAMILY_IPV4 and len(data) == 6:
            return ipaddress.IPv4Address(data[2:])
        if family == ADDRESS_FAMILY_IPV6 and len(data) == 18:
            return ipaddress.IPv6Address(data[2:])
        raise DiameterError(DIAMETER_INVALID_AVP_VALUE, f"Address AVP {self.code} family {family}", self)

    @property
    def grouped(self) -> list[Avp]:
        """The member AVPs of a Grouped AVP (RFC 6733 §4.4)."""
        return decode_avps(self.data, 0, len(self.data))

    # --- lookups inside a Grouped value -------------------------------------------------------------------
    def find(self, code: int, vendor_id: int = 0) -> Avp | None:
        return find(self.grouped, code, vendor_id)


# --- constructors ----------------------------------------------------------------------------------------

def _flags(vendor_id: int, mandatory: bool) -> int:
    return (AVP_VENDOR if vendor_id else 0) | (AVP_MANDATORY if mandatory else 0)


class ConstantAvp(Avp):
    """An AVP that is the same in every message (Origin-Host, Auth-Session-State, Vendor-Specific-Application-Id,
    Result-Code 2001, ...): its wire bytes are computed once, by `constant`, and `encode` returns them. Equal to
    the plain Avp it was made from."""

    def encode(self) -> bytes:
        return self.__dict__["wire"]  # type: ignore[no-any-return]


def constant(a: Avp) -> Avp:
    """`a` with its encoding computed once (see ConstantAvp)."""
    c = ConstantAvp(*a)
    c.__dict__["wire"] = Avp.encode(a)
    return c


def octets(code: int, value: bytes, vendor_id: int = 0, mandatory: bool = True) -> Avp:
    return Avp(code, _flags(vendor_id, mandatory), vendor_id, bytes(value))


def utf8(code: int, value: str, vendor_id: int = 0, mandatory: bool = True) -> Avp:
    return Avp(code, _flags(vendor_id, mandatory), vendor_id, value.encode())


def u32(code: int, value: int, vendor_id: int = 0, mandatory: bool = True) -> Avp:
    return Avp(code, _flags(vendor_id, mandatory), vendor_id, _U32.pack(value))


def i32(code: int, value: int, vendor_id: int = 0, mandatory: bool = True) -> Avp:
    return Avp(code, _flags(vendor_id, mandatory), vendor_id, _I32.pack(value))


def u64(code: int, value: int, vendor_id: int = 0, mandatory: bool = True) -> Avp:
    return Avp(code, _flags(vendor_id, mandatory), vendor_id, _U64.pack(value))


def i64(code: int, value: int, vendor_id: int = 0, mandatory: bool = True) -> Avp:
    return Avp(code, _flags(vendor_id, mandatory), vendor_id, _I64.pack(value))


def f32(code: int, value: float, vendor_id: int = 0, mandatory: bool = True) -> Avp:
    return Avp(code, _flags(vendor_id, mandatory), vendor_id, _F32.pack(value))


def f64(code: int, value: float, vendor_id: int = 0, mandatory: bool = True) -> Avp:
    return Avp(code, _flags(vendor_id, mandatory), vendor_id, _F64.pack(value))


def time(code: int, unix_seconds: int, vendor_id: int = 0, mandatory: bool = True) -> Avp:
    return Avp(code, _flags(vendor_id, mandatory), vendor_id, _U32.pack((unix_seconds + NTP_UNIX_OFFSET) & 0xFFFFFFFF))


def address(code: int, value: str | ipaddress.IPv4Address | ipaddress.IPv6Address, vendor_id: int = 0,
            mandatory: bool = True) -> Avp:
    ip = ipaddress.ip_address(value)
    family = ADDRESS_FAMILY_IPV4 if ip.version == 4 else ADDRESS_FAMILY_IPV6
    return Avp(code, _flags(vendor_id, mandatory), vendor_id, family.to_bytes(2, "big") + ip.packed)


def grouped(code: int, members: Iterable[Avp], vendor_id: int = 0, mandatory: bool = True) -> Avp:
    return Avp(code, _flags(vendor_id, mandatory), vendor_id, encode_avps(members))


# --- sequences ---------------------------------------------------------------------------------------------

def encode_avps(avps: Iterable[Avp]) -> bytes:
    parts: list[bytes] = []
    write_avps(parts, avps)
    return b"".join(parts)


def write_avps(parts: list[bytes], avps: Iterable[Avp]) -> int:
    """Append the wire form of `avps` to `parts` (header, payload and padding as separate pieces, joined once by
    the caller: no per-AVP concatenation); returns the octets appended. A plain Avp is written inline; others
    (ConstantAvp: kept bytes) by their own `encode`."""
    append = parts.append
    hdr, hdr_v, pad = _HDR.pack, _HDR_V.pack, _PAD
    total = 0
    for a in avps:
        if type(a) is not Avp:
            wire = a.encode()
            append(wire)
            total += len(wire)
            continue
        code, flags, vendor_id, data = a
        n = len(data)
        if vendor_id or flags & AVP_VENDOR:
            append(hdr_v(code, ((flags | AVP_VENDOR) << 24) | (12 + n), vendor_id))
            total += 12
        else:
            append(hdr(code, (flags << 24) | (8 + n)))
            total += 8
        append(data)
        if n & 3:
            append(pad[n & 3])
        total += (n + 3) & ~3
    return total


def decode_avps(buf: bytes, start: int, end: int) -> list[Avp]:
    """Split buf[start:end] into AVPs (RFC 6733 §4.1). Raises DiameterError 5014 on a bad length."""
    avps: list[Avp] = []
    append = avps.append
    unpack = _HDR.unpack_from
    new = tuple.__new__  # Avp(...) without the generated __new__'s extra call: this loop runs per AVP received
    pos = start
    while pos < end:
        if end - pos < 8:
            raise DiameterError(DIAMETER_INVALID_AVP_LENGTH, "truncated AVP header",
                                Avp(0, 0, 0, bytes(buf[pos:end])))
        code, word = unpack(buf, pos)
        flags = word >> 24
        length = word & 0xFFFFFF
        if flags & AVP_VENDOR:
            if length < 12 or pos + length > end:
                raise DiameterError(DIAMETER_INVALID_AVP_LENGTH, f"AVP {code} length {length}",
                                    _truncated(buf, pos, end, code, flags, True))
            vendor_id = _U32.unpack_from(buf, pos + 8)[0]
            append(new(Avp, (code, flags, vendor_id, buf[pos + 12:pos + length])))
        else:
            if length < 8 or pos + length > end:
                raise DiameterError(DIAMETER_INVALID_AVP_LENGTH, f"AVP {code} length {length}",
                                    _truncated(buf, pos, end, code, flags, False))
            append(new(Avp, (code, flags, 0, buf[pos + 8:pos + length])))
        # Padding (RFC 6733 §4.1) is not counted in the AVP length; a final AVP whose padding is missing
        # from the enclosing length is tolerated (seen from some peers inside Grouped AVPs).
        pos += (length + 3) & ~3
    return avps


def _truncated(buf: bytes, pos: int, end: int, code: int, flags: int, vendor: bool) -> Avp:
    """The offending AVP for Failed-AVP: its header and whatever payload there is (RFC 6733 §7.5)."""
    vendor_id = _U32.unpack_from(buf, pos + 8)[0] if vendor and end - pos >= 12 else 0
    return Avp(code, flags, vendor_id, bytes(buf[pos + (12 if vendor else 8):end]))


def find(avps: Iterable[Avp], code: int, vendor_id: int = 0) -> Avp | None:
    for a in avps:
        if a.code == code and a.vendor_id == vendor_id:
            return a
    return None


def find_all(avps: Iterable[Avp], code: int, vendor_id: int = 0) -> Iterator[Avp]:
    return (a for a in avps if a.code == code and a.vendor_id == vendor_id)
