"""Codec speed: a Gy CCR-U with three MSCC decoded and its CCA built and encoded, ocsd against python-diameter.

What a Gy handler does per request, on both libraries, in the same process and run:
  decode the CCR bytes; read Session-Id, CC-Request-Type, CC-Request-Number, the IMSI, and for each MSCC its
  Rating-Group and used octets; build the CCA with a Granted-Service-Unit per MSCC; encode it.
ocsd is timed twice: with typed values by AVP name from the dictionaries (as the applications use it) and with
raw AVP codes (the floor under the typed layer). The bar (issue 12): typed ocsd >= 8x python-diameter.
A second figure is the bare round trip (bytes -> message -> bytes) with no field access.

Reading: pure CPU in one process, no I/O; ocsd decodes AVP headers only and reads values on demand, so its
cost is the Python glue per AVP touched; python-diameter decodes every AVP into objects up front.

    python bench/bench_codec.py [--seconds S]
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from diameter.message import Message as PdMessage  # noqa: E402
from diameter.message.avp.grouped import (  # noqa: E402
    GrantedServiceUnit,
    MultipleServicesCreditControl,
)
from diameter.message.commands import CreditControlAnswer  # noqa: E402

from ocs.diameter import avp  # noqa: E402
from ocs.diameter.dictionary import default_dictionary  # noqa: E402
from ocs.diameter.message import Message  # noqa: E402

# RFC 4006 §8 AVP codes, as a handler holds them
SESSION_ID, RESULT_CODE, ORIGIN_HOST, ORIGIN_REALM, AUTH_APP = 263, 268, 264, 296, 258
CC_REQUEST_TYPE, CC_REQUEST_NUMBER = 416, 415
SUBSCRIPTION_ID, SUBSCRIPTION_ID_DATA, SUBSCRIPTION_ID_TYPE = 443, 444, 450
MSCC, RATING_GROUP, USED_SU, GRANTED_SU, CC_TOTAL_OCTETS, VALIDITY_TIME = 456, 432, 446, 431, 421, 448


def ccr_bytes() -> bytes:
    m = default_dictionary().make
    mscc = [
        m("Multiple-Services-Credit-Control", [
            m("Requested-Service-Unit", []),
            m("Used-Service-Unit", [m("CC-Total-Octets", 1_000_000), m("CC-Input-Octets", 400_000),
                                    m("CC-Output-Octets", 600_000), m("Reporting-Reason", "QUOTA_EXHAUSTED")]),
            m("Rating-Group", rg), m("Service-Identifier", rg + 1)])
        for rg in (10, 20, 30)
    ]
    return Message(272, 4, 0xC0, 11, 22, [
        m("Session-Id", "smf.example.net;1;42"), m("Origin-Host", "smf.example.net"),
        m("Origin-Realm", "example.net"), m("Destination-Realm", "example.net"), m("Auth-Application-Id", 4),
        m("Service-Context-Id", "32251@3gpp.org"), m("CC-Request-Type", "UPDATE_REQUEST"),
        m("CC-Request-Number", 1), m("Event-Timestamp", 1_790_000_000),
        m("Subscription-Id", [m("Subscription-Id-Type", "END_USER_IMSI"),
                              m("Subscription-Id-Data", "001010000000001")]),
        m("Multiple-Services-Indicator", "MULTIPLE_SERVICES_SUPPORTED"), *mscc,
        m("Service-Information", [m("PS-Information", [
            m("3GPP-Charging-Id", b"\x00\x00\x00\x2a"), m("3GPP-PDP-Type", 0), m("PDP-Address", "10.45.0.2"),
            m("SGSN-Address", "192.0.2.20"), m("Called-Station-Id", "internet"), m("3GPP-SGSN-MCC-MNC", "00101"),
            m("3GPP-RAT-Type", b"\x06")])]),
    ]).encode()


# --- ocsd -----------------------------------------------------------------------------------------------------

_D = default_dictionary()
_ORIGIN_TYPED = {"Origin-Host": "ocs.example.net", "Origin-Realm": "example.net"}


def ocs_typed_handle(wire: bytes) -> bytes:
    req = Message.decode(wire)
    r = _D.read(req)
    rtype = r["CC-Request-Type"]
    imsi = ""
    for sub in r.all("Subscription-Id"):
        if sub["Subscription-Id-Type"] == 1:  # END_USER_IMSI
            imsi = sub["Subscription-Id-Data"]
    granted = []
    for mscc in r.all("Multiple-Services-Credit-Control"):
        used = mscc.get("Used-Service-Unit")
        _ = used.get("CC-Total-Octets", 0) if used is not None else 0
        granted.append({"Granted-Service-Unit": {"CC-Total-Octets": 5_000_000}, "Rating-Group": mscc["Rating-Group"],
                        "Validity-Time": 3600, "Result-Code": 2001})
    assert imsi and rtype == 2
    return _D.answer(req, {"Session-Id": r.avp("Session-Id"), "Result-Code": 2001, **_ORIGIN_TYPED,
                           "Auth-Application-Id": 4, "CC-Request-Type": rtype,
                           "CC-Request-Number": r["CC-Request-Number"],
                           "Multiple-Services-Credit-Control": granted}).encode()


_ORIGIN = (avp.utf8(ORIGIN_HOST, "ocs.example.net"), avp.utf8(ORIGIN_REALM, "example.net"))


def ocs_handle(wire: bytes) -> bytes:
    req = Message.decode(wire)
    session = req.find(SESSION_ID)
    rtype = req.find(CC_REQUEST_TYPE).u32  # type: ignore[union-attr]
    rnum = req.find(CC_REQUEST_NUMBER)
    imsi = ""
    for sub in req.find_all(SUBSCRIPTION_ID):
        if sub.find(SUBSCRIPTION_ID_TYPE).u32 == 1:  # type: ignore[union-attr]
            imsi = sub.find(SUBSCRIPTION_ID_DATA).utf8  # type: ignore[union-attr]
    granted = []
    for mscc in req.find_all(MSCC):
        members = mscc.grouped
        rg = avp.find(members, RATING_GROUP).u32  # type: ignore[union-attr]
        used = avp.find(members, USED_SU)
        _ = used.find(CC_TOTAL_OCTETS).u64 if used is not None else 0  # type: ignore[union-attr]
        granted.append(avp.grouped(MSCC, [
            avp.grouped(GRANTED_SU, [avp.u64(CC_TOTAL_OCTETS, 5_000_000)]), avp.u32(RATING_GROUP, rg),
            avp.u32(VALIDITY_TIME, 3600), avp.u32(RESULT_CODE, 2001)]))
    assert imsi and rtype == 2
    return req.answer([session, avp.u32(RESULT_CODE, 2001), *_ORIGIN, avp.u32(AUTH_APP, 4),  # type: ignore[list-item]
                       avp.u32(CC_REQUEST_TYPE, rtype), rnum, *granted]).encode()  # type: ignore[list-item]


def ocs_round_trip(wire: bytes) -> bytes:
    m = Message.decode(wire)
    for a in m.avps:  # touch every top-level AVP and the members of the grouped ones, as a full parse would
        if a.code in (MSCC, SUBSCRIPTION_ID, 873):
            a.grouped  # noqa: B018
    return Message(m.command_code, m.application_id, m.flags, m.hop_by_hop, m.end_to_end, m.avps).encode()


# --- python-diameter ----------------------------------------------------------------------------------------

def pd_handle(wire: bytes) -> bytes:
    req = PdMessage.from_bytes(wire)
    session, rtype, rnum = req.session_id, req.cc_request_type, req.cc_request_number  # type: ignore[attr-defined]
    imsi = ""
    for sub in req.subscription_id:  # type: ignore[attr-defined]
        if sub.subscription_id_type == 1:
            imsi = sub.subscription_id_data
    granted = []
    for mscc in req.multiple_services_credit_control:  # type: ignore[attr-defined]
        _ = mscc.used_service_unit[0].cc_total_octets if mscc.used_service_unit else 0
        granted.append(MultipleServicesCreditControl(
            granted_service_unit=GrantedServiceUnit(cc_total_octets=5_000_000), rating_group=mscc.rating_group,
            validity_time=3600, result_code=2001))
    assert imsi and rtype == 2
    cca = CreditControlAnswer()
    cca.header.hop_by_hop_identifier = req.header.hop_by_hop_identifier
    cca.header.end_to_end_identifier = req.header.end_to_end_identifier
    cca.session_id = session
    cca.result_code = 2001
    cca.origin_host = b"ocs.example.net"
    cca.origin_realm = b"example.net"
    cca.auth_application_id = 4
    cca.cc_request_type = rtype
    cca.cc_request_number = rnum
    cca.multiple_services_credit_control = granted
    return cca.as_bytes()


def pd_round_trip(wire: bytes) -> bytes:
    # plain_msg: the AVP list as parsed (its typed classes rebuild the list from attributes, reordered)
    return PdMessage.from_bytes(wire, plain_msg=True).as_bytes()


def _run(fn: Callable[[bytes], bytes], wire: bytes, seconds: float) -> float:
    n, start = 0, time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(200):
            fn(wire)
        n += 200
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def rates(ours: Callable[[bytes], bytes], theirs: Callable[[bytes], bytes], wire: bytes,
          seconds: float, rounds: int = 5) -> tuple[float, float]:
    """Calls per second of each, best of `rounds` runs of `seconds`, the two runs of a round back to back (a
    machine whose load changes during the benchmark then weighs on both alike)."""
    ours(wire)
    theirs(wire)
    a = b = 0.0
    for _ in range(rounds):
        a = max(a, _run(ours, wire, seconds))
        b = max(b, _run(theirs, wire, seconds))
    return a, b


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=0.5, help="length of each of the 5 timed runs")
    args = parser.parse_args()
    wire = ccr_bytes()
    # the answers are well-formed for both libraries before anything is timed
    assert Message.decode(ocs_handle(wire)).find(RESULT_CODE).u32 == 2001  # type: ignore[union-attr]
    assert ocs_typed_handle(wire) == ocs_handle(wire)
    assert PdMessage.from_bytes(pd_handle(wire)).result_code == 2001  # type: ignore[attr-defined]
    assert ocs_round_trip(wire) == wire and pd_round_trip(wire) == wire
    print(f"python {platform.python_version()} on {platform.machine()}; CCR-U {len(wire)} bytes, 3 MSCC")
    for label, ours, theirs in (("CCR decode + CCA encode, typed", ocs_typed_handle, pd_handle),
                                ("CCR decode + CCA encode, codes", ocs_handle, pd_handle),
                                ("round trip bytes->msg->bytes", ocs_round_trip, pd_round_trip)):
        a, b = rates(ours, theirs, wire, args.seconds)
        print(f"{label:30s} ocsd {a:>9,.0f}/s ({1e6 / a:6.1f} us)   python-diameter {b:>8,.0f}/s "
              f"({1e6 / b:6.1f} us)   ratio {a / b:5.1f}x")


if __name__ == "__main__":
    main()
