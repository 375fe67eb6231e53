"""Typed messages: AVP values read and written by name, with the types the dictionary gives them.

Theory of operation (dnspython's rdata style). A `Group` is a sequence of raw `Avp`s (a message body or the
payload of a Grouped AVP) read through a `Dictionary`: `group["Origin-Host"]` is the first Origin-Host as a
`str`, `group.all("Subscription-Id")` every Subscription-Id as a `Group`. The raw AVPs stay as they are, so an
unknown AVP round-trips byte for byte; a Grouped value is split into its members once, on first read, and
kept. Types (RFC 6733 §4.2, §4.3): Integer32/64, Unsigned32/64 and Enumerated -> int, UTF8String,
DiameterIdentity, DiameterURI, IPFilterRule, QoSFilterRule -> str, OctetString -> bytes, Address ->
ipaddress, Time -> Unix seconds (int), Float32/64 -> float, Grouped -> Group.

Writing: `build(dictionary, values)` turns a mapping (or a list of (name, value) pairs and raw `Avp`s) into
AVPs in order: a list value repeats the AVP, a mapping or a list of pairs is a Grouped value, an `Avp` passes
through unchanged, None leaves the AVP out; Enumerated also takes the name of a value.

Reading a value that is malformed raises DiameterError (5014 DIAMETER_INVALID_AVP_LENGTH, 5004
DIAMETER_INVALID_AVP_VALUE) with the AVP as Failed-AVP; a required AVP that is absent, 5005
DIAMETER_MISSING_AVP (RFC 6733 §7.1.5).
"""

from __future__ import annotations

import ipaddress
import operator
import struct
from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

from ocs.diameter.avp import NTP_UNIX_OFFSET, Avp, ConstantAvp, encode_avps
from ocs.diameter.codes import AVP_PROTECTED, DIAMETER_INVALID_AVP_LENGTH, DIAMETER_MISSING_AVP
from ocs.diameter.errors import DiameterError

if TYPE_CHECKING:
    from ocs.diameter.dictionary import AvpDef, Dictionary

Reader = Callable[[Avp], Any]
Writer = Callable[[Any], bytes]

_U32 = struct.Struct(">I").pack
_I32 = struct.Struct(">i").pack
_U64 = struct.Struct(">Q").pack
_I64 = struct.Struct(">q").pack
_F32 = struct.Struct(">f").pack
_F64 = struct.Struct(">d").pack


def _getter(name: str) -> Reader:
    prop = getattr(Avp, name)
    return prop.fget  # type: ignore[no-any-return]


def _fixed(size: int, unpack: Callable[[bytes], tuple[Any, ...]]) -> Reader:
    """A reader of a fixed-size value: the payload must be exactly `size` octets (RFC 6733 §4.2)."""

    def read(a: Avp) -> Any:
        data = a[3]
        if len(data) != size:
            raise DiameterError(DIAMETER_INVALID_AVP_LENGTH, f"AVP {a[0]} needs {size} octets, has {len(data)}", a)
        return unpack(data)[0]

    return read


_READERS: dict[str, Reader] = {
    "Unsigned32": _fixed(4, struct.Struct(">I").unpack), "Integer32": _fixed(4, struct.Struct(">i").unpack),
    "Enumerated": _fixed(4, struct.Struct(">i").unpack),  # RFC 6733 §4.3.1: derived from Integer32
    "Unsigned64": _fixed(8, struct.Struct(">Q").unpack), "Integer64": _fixed(8, struct.Struct(">q").unpack),
    "Float32": _getter("f32"), "Float64": _getter("f64"), "Time": _getter("time"), "Address": _getter("address"),
    "OctetString": operator.itemgetter(3),  # Avp.data
    **dict.fromkeys(("UTF8String", "DiameterIdentity", "DiameterURI", "IPFilterRule", "QoSFilterRule"),
                    _getter("utf8")),
}


def _int(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"an integer is needed, not {value!r}")
    return value


def _str(value: Any) -> bytes:
    if not isinstance(value, str):
        raise TypeError(f"a str is needed, not {value!r}")
    return value.encode()


def _octets(value: Any) -> bytes:
    if not isinstance(value, (bytes, bytearray, memoryview)):
        raise TypeError(f"bytes are needed, not {value!r}")
    return bytes(value)


def _address(value: Any) -> bytes:
    ip = ipaddress.ip_address(value)
    return (b"\x00\x01" if ip.version == 4 else b"\x00\x02") + ip.packed  # RFC 6733 §4.3.1 address family


def _packer(pack: Callable[[int], bytes]) -> Writer:
    def write(v: Any) -> bytes:
        return pack(v if type(v) is int else _int(v))  # bool is refused; struct refuses what is out of range

    return write


_WRITERS: dict[str, Writer] = {
    "Unsigned32": _packer(_U32), "Integer32": _packer(_I32), "Unsigned64": _packer(_U64),
    "Integer64": _packer(_I64),
    "Float32": lambda v: _F32(float(v)), "Float64": lambda v: _F64(float(v)),
    "Time": lambda v: _U32((_int(v) + NTP_UNIX_OFFSET) & 0xFFFFFFFF),  # RFC 6733 §4.3.1, NTP era wraps
    "Address": _address, "OctetString": _octets,
    **dict.fromkeys(("UTF8String", "DiameterIdentity", "DiameterURI", "IPFilterRule", "QoSFilterRule"), _str),
}


_FIXED_SIZES = {"Unsigned32": 4, "Integer32": 4, "Enumerated": 4, "Float32": 4, "Time": 4,
                "Unsigned64": 8, "Integer64": 8, "Float64": 8}
_HDR = struct.Struct(">II").pack
_HDR_V = struct.Struct(">III").pack
_AVPS = (Avp, ConstantAvp)  # an AVP given as is (ConstantAvp: encoded once, see ocs.diameter.avp)
_PAD = (b"", b"\0\0\0", b"\0\0", b"\0")


class Spec:
    """What reading and writing one AVP by name needs, computed once per name and dictionary."""

    __slots__ = ("code", "vendor_id", "flags", "read", "write", "definition", "head")

    def __init__(self, d: AvpDef) -> None:
        self.code = d.code
        self.vendor_id = d.vendor_id
        self.flags = d.flags
        self.definition = d
        self.read: Reader | None = None if d.type == "Grouped" else _READERS[d.type]
        write: Writer | None = _WRITERS.get(d.type)
        if d.type == "Enumerated":
            names, pack = d.enum, _I32

            def write(v: Any) -> bytes:
                return pack(names[v] if isinstance(v, str) else _int(v))
        self.write = write
        # the whole AVP header when the payload has a fixed size (RFC 6733 §4.2): written as is, with no padding
        size = _FIXED_SIZES.get(d.type)
        self.head: bytes | None = None
        if size is not None:
            self.head = (_HDR_V(d.code, (self.flags << 24) | (12 + size), d.vendor_id) if d.vendor_id
                         else _HDR(d.code, (self.flags << 24) | (8 + size)))

    def missing(self) -> DiameterError:
        """RFC 6733 §7.5: Failed-AVP of a missing AVP holds an AVP of that code with an empty payload."""
        return DiameterError(DIAMETER_MISSING_AVP, f"{self.definition.name} missing",
                             Avp(self.code, self.flags & ~AVP_PROTECTED, self.vendor_id, b""))


def spec(dictionary: Dictionary, name: str) -> Spec:
    specs = dictionary._specs
    found = specs.get(name)
    if found is None:
        found = specs[name] = Spec(dictionary.avp(name))
    return found


class Group:
    """AVPs read by name. `avps` is the raw list (unknown AVPs included, in wire order)."""

    __slots__ = ("dictionary", "avps", "_groups")

    def __init__(self, dictionary: Dictionary, avps: list[Avp]) -> None:
        self.dictionary = dictionary
        self.avps = avps
        self._groups: dict[int, Group] | None = None

    def _group(self, a: Avp) -> Group:
        """The members of Grouped `a` (one of `avps`, which keeps it alive: its id is a stable key), split into
        AVPs once, on first read."""
        groups = self._groups
        if groups is None:
            groups = self._groups = {}
        found = groups.get(id(a))
        if found is None:
            found = groups[id(a)] = Group(self.dictionary, a.grouped)
        return found

    def __getitem__(self, name: str) -> Any:
        """The value of the first `name`; DiameterError 5005 when there is none."""
        s = self.dictionary._specs.get(name) or spec(self.dictionary, name)
        code, vendor_id = s.code, s.vendor_id
        for a in self.avps:
            if a[0] == code and a[2] == vendor_id:
                read = s.read
                return self._group(a) if read is None else read(a)
        raise s.missing()

    def get(self, name: str, default: Any = None) -> Any:
        s = self.dictionary._specs.get(name) or spec(self.dictionary, name)
        code, vendor_id = s.code, s.vendor_id
        for a in self.avps:
            if a[0] == code and a[2] == vendor_id:
                read = s.read
                return self._group(a) if read is None else read(a)
        return default

    def all(self, name: str) -> list[Any]:
        """The values of every `name`, in wire order."""
        s = spec(self.dictionary, name)
        code, vendor_id, read = s.code, s.vendor_id, s.read
        if read is None:
            return [self._group(a) for a in self.avps if a[0] == code and a[2] == vendor_id]
        return [read(a) for a in self.avps if a[0] == code and a[2] == vendor_id]

    def avp(self, name: str) -> Avp | None:
        """The first raw AVP `name` (to echo it, or as Failed-AVP)."""
        s = spec(self.dictionary, name)
        for a in self.avps:
            if a[0] == s.code and a[2] == s.vendor_id:
                return a
        return None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.avp(name) is not None

    def __iter__(self) -> Iterator[Avp]:
        return iter(self.avps)

    def __len__(self) -> int:
        return len(self.avps)

    def __repr__(self) -> str:
        return f"Group({self.dictionary.tree(self.avps)!r})"


Values = Mapping[str, Any] | Iterable[Any]


def build(dictionary: Dictionary, values: Values) -> list[Avp]:
    """AVPs from values by name, in order (see the module docstring)."""
    out: list[Avp] = []
    append = out.append
    specs = dictionary._specs
    new = tuple.__new__
    items: Iterable[Any] = values.items() if type(values) is dict or isinstance(values, Mapping) else values
    for item in items:
        if type(item) in _AVPS:
            append(item)
            continue
        name, value = item
        if value is None:
            continue
        if type(value) in _AVPS:
            append(value)
            continue
        s = specs.get(name) or spec(dictionary, name)
        for v in (value if type(value) is list else (value,)):
            if v is None:
                continue
            if type(v) in _AVPS:
                append(v)
                continue
            write = s.write
            data = write(v) if write is not None else _grouped(dictionary, s, v)
            append(new(Avp, (s.code, s.flags, s.vendor_id, data)))
    return out


def _grouped(dictionary: Dictionary, s: Spec, value: Any) -> bytes:
    """The payload of a Grouped AVP: its members written straight into bytes (no Avp per member)."""
    items: Iterable[Any]
    if type(value) is dict:
        items = value.items()
    elif isinstance(value, Group):
        return encode_avps(value.avps)
    elif isinstance(value, Mapping):
        items = value.items()
    elif isinstance(value, tuple):
        items = value
    else:
        raise TypeError(f"{s.definition.name}: a Grouped value is a mapping of member values")
    parts: list[bytes] = []
    append = parts.append
    specs = dictionary._specs
    for item in items:
        if type(item) in _AVPS:
            append(item.encode())  # type: ignore[union-attr]
            continue
        name, member = item
        if member is None:
            continue
        if type(member) in _AVPS:
            append(member.encode())
            continue
        m = specs.get(name) or spec(dictionary, name)
        for v in (member if type(member) is list else (member,)):
            if v is None:
                continue
            if type(v) in _AVPS:
                append(v.encode())
                continue
            head = m.head
            if head is not None:
                append(head)
                append(m.write(v))  # type: ignore[misc]
                continue
            write = m.write
            data = write(v) if write is not None else _grouped(dictionary, m, v)
            n = len(data)
            if m.vendor_id:
                append(_HDR_V(m.code, (m.flags << 24) | (12 + n), m.vendor_id))
            else:
                append(_HDR(m.code, (m.flags << 24) | (8 + n)))
            append(data)
            append(_PAD[n & 3])
    return b"".join(parts)


def with_payload(s: Spec, data: bytes) -> Avp:
    """The AVP of `s` around a payload written elsewhere (a Grouped value joined from member octets)."""
    return Avp(s.code, s.flags, s.vendor_id, data)


__all__ = ["Group", "Spec", "Values", "build", "spec", "with_payload"]
