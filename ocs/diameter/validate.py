"""AVP-level checks of a request before an application sees it (RFC 6733 §7.1.5), whether or not the handler
would read the AVPs they concern:

- 5009 DIAMETER_AVP_OCCURS_TOO_MANY_TIMES: an AVP the command carries at most once (the dictionary's `single`:
  the command's own list and the base protocol's) appears again; Failed-AVP holds the first instance that
  exceeded the maximum (the second occurrence).
- 5014 DIAMETER_INVALID_AVP_LENGTH: an AVP whose payload does not fit its dictionary type (RFC 6733 §4.2,
  §4.3: a 3-octet Enumerated, a 5-octet Unsigned32, an IPv4 Address that is not 6 octets), at the top level or
  inside a Grouped AVP; Failed-AVP holds the offending AVP, inside its enclosing Grouped AVPs (§7.5).

The rules of a command are compiled once per dictionary into a few dicts (`Dictionary.rules`); the check is
one pass over the top-level AVPs plus one over the members of each Grouped AVP the dictionary knows.
"""

from __future__ import annotations

from dataclasses import dataclass

from ocs.diameter.avp import Avp
from ocs.diameter.codes import DIAMETER_AVP_OCCURS_TOO_MANY_TIMES, DIAMETER_INVALID_AVP_LENGTH
from ocs.diameter.dictionary import Dictionary
from ocs.diameter.errors import DiameterError
from ocs.diameter.message import Message

# RFC 6733 §4.2 basic and §4.3 derived formats of a fixed size
_SIZES = {"Integer32": 4, "Unsigned32": 4, "Float32": 4, "Enumerated": 4, "Time": 4,
          "Integer64": 8, "Unsigned64": 8, "Float64": 8}
_ADDRESS = -1  # RFC 6733 §4.3.1: 2 octets of family, then 4 (IPv4) or 16 (IPv6)
_GROUPED = -2
_ADDRESS_SIZES = {1: 6, 2: 18}
MAX_DEPTH = 8  # Grouped AVPs nested deeper than this are not looked into


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


def check_request(dictionary: Dictionary, message: Message) -> None:
    """Raise DiameterError 5009 or 5014 (with Failed-AVP) for the first AVP of `message` that breaks a rule."""
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
            _check_avp(a, shape, shapes, 0)


def _check_avp(a: Avp, shape: int, shapes: dict[tuple[int, int], int], depth: int) -> None:
    data = a[3]
    if shape > 0:
        if len(data) != shape:
            raise DiameterError(DIAMETER_INVALID_AVP_LENGTH, f"AVP {a[0]} needs {shape} octets, has {len(data)}", a)
    elif shape == _ADDRESS:
        if len(data) < 2 or len(data) != _ADDRESS_SIZES.get((data[0] << 8) | data[1], len(data)):
            raise DiameterError(DIAMETER_INVALID_AVP_LENGTH, f"Address AVP {a[0]} length {len(data)}", a)
    elif depth < MAX_DEPTH:
        try:
            for m in a.grouped:  # a member whose header does not fit raises 5014 too
                inner = shapes.get((m[0], m[2]))
                if inner is not None:
                    _check_avp(m, inner, shapes, depth + 1)
        except DiameterError as e:
            # RFC 6733 §7.5: the offending member inside the Grouped AVP that encloses it
            if e.failed_avp is not None:
                e.failed_avp = Avp(a[0], a[1], a[2], e.failed_avp.encode())
            raise


__all__ = ["Rules", "check_request", "rules"]
