"""The one-pass request check (issue 15) says "fine" exactly when none of the checks one by one would refuse:
unknown AVPs with the M bit (5001), required AVPs missing (5005), single AVPs repeated (5009), fixed-size and
Address AVPs of the wrong length (5014). Requests drawn from the S6a AIR and Gy CCR vocabularies, with unknown,
repeated, missing and misshapen AVPs mixed in."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from ocs.diameter.avp import Avp
from ocs.diameter.codes import AVP_MANDATORY, AVP_VENDOR
from ocs.diameter.dictionary import default_dictionary
from ocs.diameter.errors import DiameterError
from ocs.diameter.message import Message
from ocs.diameter.validate import check_request, one_pass, passes

D = default_dictionary()
COMMANDS = [(16777251, 318), (4, 272)]  # S6a AIR, Gy CCR
KNOWN = frozenset((d.code, d.vendor_id) for d in D.avps())


def required(app: int, code: int) -> tuple[tuple[int, int], ...]:
    command = D.command(code, app)
    assert command is not None
    return tuple((d.code, d.vendor_id) for d in map(D.avp, command.request_required))


def one_by_one(msg: Message, req: tuple[tuple[int, int], ...]) -> bool:
    for a in msg.avps:
        if a.flags & AVP_MANDATORY and (a.code, a.vendor_id) not in KNOWN:
            return False
    present = {(a.code, a.vendor_id) for a in msg.avps}
    if any(key not in present for key in req):
        return False
    try:
        check_request(D, msg)
    except DiameterError:
        return False
    return True


SIZES = {"Integer32": 4, "Unsigned32": 4, "Float32": 4, "Enumerated": 4, "Time": 4, "Integer64": 8,
         "Unsigned64": 8, "Float64": 8}
TYPES = {(d.code, d.vendor_id): d.type for d in D.avps()}


def fitting(key: tuple[int, int]) -> bytes:
    """A payload of the right size for the AVP's type."""
    kind = TYPES.get(key, "OctetString")
    return b"\0\x01\x7f\0\0\x01" if kind == "Address" else b"\0" * SIZES.get(kind, 5)


@st.composite
def requests(draw: st.DrawFn) -> tuple[int, int, list[Avp]]:
    app, code = draw(st.sampled_from(COMMANDS))
    pool = sorted(KNOWN) + [(9999, 0), (8888, 10415)]
    avps = [Avp(c, AVP_MANDATORY | (AVP_VENDOR if v else 0), v, fitting((c, v)))
            for c, v in required(app, code) if draw(st.integers(0, 30))]  # now and then one missing
    for _ in range(draw(st.integers(0, 12))):
        c, v = draw(st.sampled_from(pool))
        flags = (AVP_MANDATORY if (c, v) in KNOWN or not draw(st.integers(0, 5)) else 0) | (AVP_VENDOR if v else 0)
        if draw(st.integers(0, 8)):
            data = fitting((c, v))
        else:  # a size that may not fit, or an Address of an unknown family
            size = draw(st.sampled_from([0, 3, 4, 6, 8, 18]))
            data = bytes([0, draw(st.sampled_from([1, 2, 7]))]) + b"\0" * (size - 2) if size >= 2 else b"\0" * size
        avps.insert(draw(st.integers(0, len(avps))), Avp(c, flags, v, data))
    return app, code, avps


@settings(max_examples=400, deadline=None)
@given(requests())
def test_one_pass_agrees_with_the_checks_one_by_one(request: tuple[int, int, list[Avp]]):
    app, code, avps = request
    msg = Message(code, app, 0xC0, 1, 1, avps)
    req = required(app, code)
    assert passes(one_pass(D, app, code, KNOWN, req), msg.avps, AVP_MANDATORY) == one_by_one(msg, req)
