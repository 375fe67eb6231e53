"""AVP-level checks of a request before an application sees it (RFC 6733 §7.1.5), whether or not the handler
would read the AVPs they concern:

- 5009 DIAMETER_AVP_OCCURS_TOO_MANY_TIMES: an AVP the command carries at most once (the dictionary's `single`:
  the command's own list and the base protocol's) appears again; Failed-AVP holds the first instance that
  exceeded the maximum (the second occurrence).
- 5014 DIAMETER_INVALID_AVP_LENGTH: an AVP whose payload does not fit its dictionary type (RFC 6733 §4.2,
  §4.3: a 3-octet Enumerated, a 5-octet Unsigned32, an IPv4 Address that is not 6 octets); Failed-AVP holds
  the offending AVP, inside its enclosing Grouped AVPs when it is a member (§7.5).

The rules of a command are compiled once per dictionary into a few dicts (`Dictionary.rules`); the check is
one pass over the top-level AVPs (about 3 us for a Gy CCR-U with 3 MSCC). With `depth` > 0 the members of
Grouped AVPs are scanned in place too, to that depth; that costs about 7 times more for the same CCR (some 45
members), so the node checks the top level only, and a member is checked when a handler reads its group
(ocs.diameter.typed raises the same 5014 with the AVP).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from ocs.diameter.avp import Avp
from ocs.diameter.codes import AVP_VENDOR, DIAMETER_AVP_OCCURS_TOO_MANY_TIMES, DIAMETER_INVALID_AVP_LENGTH
from ocs.diameter.dictionary import Dictionary
from ocs.diameter.errors import DiameterError
from ocs.diameter.message import Message

# RFC 6733 §4.2 basic and §4.3 derived formats of a fixed size
_SIZES = {"Integer32": 4, "Unsigned32": 4, "Float32": 4, "Enumerated": 4, "Time": 4,
          "Integer64": 8, "Unsigned64": 8, "Float64": 8}
_ADDRESS = -1  # RFC 6733 §4.3.1: 2 octets of family, then 4 (IPv4) or 16 (IPv6)
_GROUPED = -2
_ADDRESS_SIZES = {1: 6, 2: 18}


@dataclass(frozen=True, slots=True)
class Rules:
    single: frozenset[tuple[int, int]]  # (code, vendor) at most once in the request
    shapes: dict[tuple[int, int], int]   # (code, vendor) -> size, _ADDRESS or _GROUPED (others: any length)


def _shapes(dictionary: Dictionary) -> dict[tuple[int, int], int]:
    shapes: dict[tuple[int, int], int] = {}
    for d in dictionary.avps():
        if d.type in _SIZES:
            shapes[(d.code, d.vendor_id)] = _SIZES[d.type]
        elif d.type == "Address":
            shapes[(d.code, d.vendor_id)] = _ADDRESS
        elif d.type == "Grouped":
            shapes[(d.code, d.vendor_id)] = _GROUPED
    return shapes


def rules(dictionary: Dictionary, application_id: int, command_code: int) -> Rules:
    key = (application_id, command_code)
    found = dictionary.rules.get(key)
    if found is None:
        shapes = dictionary.rules.get((-1, -1))
        if shapes is None:
            shapes = dictionary.rules[(-1, -1)] = _shapes(dictionary)  # type: ignore[assignment]
        command = dictionary.command(command_code, application_id)
        names = set(dictionary.single) | set(command.request_single if command is not None else ())
        single = frozenset((d.code, d.vendor_id) for d in map(dictionary.avp, names))
        found = dictionary.rules[key] = Rules(single, shapes)  # type: ignore[arg-type]
    assert isinstance(found, Rules)
    return found


def check_request(dictionary: Dictionary, message: Message, depth: int = 0) -> None:
    """Raise DiameterError 5009 or 5014 (with Failed-AVP) for the first AVP of `message` that breaks a rule;
    Grouped AVPs are looked into `depth` levels deep."""
    r = rules(dictionary, message.application_id, message.command_code)
    single, shapes = r.single, r.shapes
    seen: set[tuple[int, int]] = set()
    for a in message.avps:
        key = (a[0], a[2])
        if key in single:
            if key in seen:
                raise DiameterError(DIAMETER_AVP_OCCURS_TOO_MANY_TIMES, f"AVP {a[0]} occurs more than once", a)
            seen.add(key)
        shape = shapes.get(key)
        if shape is not None:
            _check_avp(a, shape, shapes, depth)


def _check_avp(a: Avp, shape: int, shapes: dict[tuple[int, int], int], depth: int) -> None:
    data = a[3]
    n = len(data)
    if shape > 0:
        if n != shape:
            raise DiameterError(DIAMETER_INVALID_AVP_LENGTH, f"AVP {a[0]} needs {shape} octets, has {n}", a)
    elif shape == _ADDRESS:
        if n < 2 or n != _ADDRESS_SIZES.get((data[0] << 8) | data[1], n):
            raise DiameterError(DIAMETER_INVALID_AVP_LENGTH, f"Address AVP {a[0]} length {n}", a)
    elif depth > 0:
        try:
            _scan(data, 0, n, shapes, depth - 1)
        except DiameterError as e:
            if e.failed_avp is not None:  # RFC 6733 §7.5: the offending member inside its Grouped AVP
                e.failed_avp = Avp(a[0], a[1], a[2], e.failed_avp.encode())
            raise


_HDR = struct.Struct(">II").unpack_from
_VENDOR = struct.Struct(">I").unpack_from


def _scan(buf: bytes, pos: int, end: int, shapes: dict[tuple[int, int], int], depth: int) -> None:
    """The members of a Grouped payload buf[pos:end], checked in place: no Avp is made unless one is bad."""
    while pos < end:
        if end - pos < 8:
            raise DiameterError(DIAMETER_INVALID_AVP_LENGTH, "truncated AVP header", Avp(0, 0, 0, buf[pos:end]))
        code, word = _HDR(buf, pos)
        flags, length = word >> 24, word & 0xFFFFFF
        head = 12 if flags & AVP_VENDOR else 8
        if length < head or pos + length > end or (head == 12 and end - pos < 12):
            raise DiameterError(DIAMETER_INVALID_AVP_LENGTH, f"AVP {code} length {length}",
                                Avp(code, flags, _VENDOR(buf, pos + 8)[0] if end - pos >= 12 and head == 12 else 0,
                                    buf[pos + head:end]))
        vendor_id = _VENDOR(buf, pos + 8)[0] if head == 12 else 0
        shape = shapes.get((code, vendor_id))
        if shape is not None:
            size = length - head
            if shape > 0:
                ok = size == shape
            elif shape == _ADDRESS:
                ok = size >= 2 and size == _ADDRESS_SIZES.get((buf[pos + head] << 8) | buf[pos + head + 1], size)
            else:
                ok = True
                if depth > 0:
                    try:
                        _scan(buf, pos + head, pos + length, shapes, depth - 1)
                    except DiameterError as e:
                        if e.failed_avp is not None:
                            e.failed_avp = Avp(code, flags, vendor_id, e.failed_avp.encode())
                        raise
            if not ok:
                raise DiameterError(DIAMETER_INVALID_AVP_LENGTH, f"AVP {code} length {size} does not fit its type",
                                    Avp(code, flags, vendor_id, buf[pos + head:pos + length]))
        pos += (length + 3) & ~3


# --- every check of a request in one pass (issue 15) --------------------------------------------------------------

Entry = tuple[int, int, int]  # (shape or 0, bit of a single-occurrence AVP or 0, bit of a required AVP or 0)


@dataclass(frozen=True, slots=True)
class Pass:
    """What one pass over a request's AVPs checks, for one command: each known AVP's entry, and the bits of the
    required AVPs together."""

    entries: dict[tuple[int, int], Entry]
    required: int


def one_pass(dictionary: Dictionary, application_id: int, command_code: int,
             known: frozenset[tuple[int, int]], required: tuple[tuple[int, int], ...]) -> Pass:
    """The single-pass table of a command: `known` AVPs (others with the M bit are refused, RFC 6733 §7.1.5), the
    `required` ones (code, vendor), and the rules of `check_request`."""
    r = rules(dictionary, application_id, command_code)
    entries: dict[tuple[int, int], Entry] = dict.fromkeys(known, (0, 0, 0))
    for i, key in enumerate(sorted(r.single)):
        shape, _, req = entries.get(key, (0, 0, 0))
        entries[key] = (shape, 1 << i, req)
    for key, shape in r.shapes.items():
        if key in entries and shape != _GROUPED:  # Grouped members are checked when read (module docstring)
            _, single, req = entries[key]
            entries[key] = (shape, single, req)
    bits = 0
    for j, key in enumerate(required):
        shape, single, _ = entries.get(key, (0, 0, 0))
        bit = 1 << (len(r.single) + j)
        entries[key] = (shape, single, bit)
        bits |= bit
    return Pass(entries, bits)


def passes(p: Pass, avps: list[Avp], mandatory: int) -> bool:
    """True when the AVPs break none of the rules of `p`: the M bit only on known AVPs, every required AVP present,
    single ones once, fixed sizes and addresses right. False sends the caller to the checks one by one, which
    raise the answer each rule gives, in their order (the first broken rule wins, as before)."""
    entries = p.entries
    singles = 0
    present = 0
    for a in avps:
        entry = entries.get((a[0], a[2]))
        if entry is None:
            if a[1] & mandatory:
                return False
            continue
        shape, single, req = entry
        if single:
            if singles & single:
                return False
            singles |= single
        present |= req
        if shape:
            n = len(a[3])
            if shape > 0:
                if n != shape:
                    return False
            elif n < 2 or n != _ADDRESS_SIZES.get((a[3][0] << 8) | a[3][1], n):
                return False
    return present == p.required


__all__ = ["Pass", "Rules", "check_request", "one_pass", "passes", "rules"]
