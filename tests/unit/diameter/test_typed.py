"""Typed messages: values by AVP name with their dictionary types, groups decoded once, answers built by name."""

from __future__ import annotations

import ipaddress

import pytest

from ocs.diameter import avp
from ocs.diameter.dictionary import default_dictionary
from ocs.diameter.errors import DiameterError
from ocs.diameter.message import Message
from ocs.diameter.typed import Group

D = default_dictionary()


def ccr() -> Message:
    return Message(272, 4, 0xC0, 5, 6, D.build({
        "Session-Id": "smf;1", "Origin-Host": "smf.test", "Origin-Realm": "test", "Auth-Application-Id": 4,
        "CC-Request-Type": "UPDATE_REQUEST", "CC-Request-Number": 3, "Event-Timestamp": 1_790_000_000,
        "Subscription-Id": [{"Subscription-Id-Type": "END_USER_E164", "Subscription-Id-Data": "15550001"},
                            {"Subscription-Id-Type": "END_USER_IMSI", "Subscription-Id-Data": "001010000000001"}],
        "Multiple-Services-Credit-Control": [
            {"Rating-Group": rg, "Used-Service-Unit": {"CC-Total-Octets": rg * 1000}} for rg in (10, 20, 30)],
        "Class": b"\x00\xff", "Host-IP-Address": "2001:db8::1",
    }))


def test_values_have_their_dictionary_types():
    r = D.read(Message.decode(ccr().encode()))
    assert r["Session-Id"] == "smf;1" and r["Origin-Host"] == "smf.test"
    assert r["CC-Request-Type"] == 2 and r["CC-Request-Number"] == 3  # Enumerated and Unsigned32 -> int
    assert r["Event-Timestamp"] == 1_790_000_000  # Time -> Unix seconds
    assert r["Class"] == b"\x00\xff"  # OctetString -> bytes
    assert r["Host-IP-Address"] == ipaddress.ip_address("2001:db8::1")
    subs = r.all("Subscription-Id")
    assert [(s["Subscription-Id-Type"], s["Subscription-Id-Data"]) for s in subs] == [
        (0, "15550001"), (1, "001010000000001")]
    assert [m["Used-Service-Unit"]["CC-Total-Octets"] for m in r.all("Multiple-Services-Credit-Control")] == [
        10_000, 20_000, 30_000]
    assert r.get("User-Name") is None and "User-Name" not in r and "Session-Id" in r


def test_a_group_is_decoded_once_on_first_read():
    r = D.read(Message.decode(ccr().encode()))
    first = r["Multiple-Services-Credit-Control"]
    assert isinstance(first, Group)
    assert r["Multiple-Services-Credit-Control"] is first and r.all("Multiple-Services-Credit-Control")[0] is first
    assert first["Used-Service-Unit"] is first["Used-Service-Unit"]


def test_a_missing_avp_is_5005_and_a_bad_one_5014_with_failed_avp():
    r = D.read([avp.Avp(416, 0x40, 0, b"\x00\x01\x02")])
    with pytest.raises(DiameterError) as e:
        r["Session-Id"]
    assert e.value.result_code == 5005 and e.value.failed_avp is not None and e.value.failed_avp.code == 263
    with pytest.raises(DiameterError) as e:
        r["CC-Request-Type"]
    assert e.value.result_code == 5014 and e.value.failed_avp == r.avps[0]


def test_answers_built_by_name_echo_unknown_avps_byte_for_byte():
    strange = avp.Avp(99999, 0x00, 0, b"\x01\x02\x03")  # not in any dictionary, odd length
    request = Message(272, 4, 0xC0, 5, 6, [*ccr().avps, strange])
    r = D.read(Message.decode(request.encode()))
    answer = D.answer(request, {"Session-Id": r.avp("Session-Id"), "Result-Code": 2001,
                                "CC-Request-Type": r["CC-Request-Type"], "Proxy-Info": None, "Echo": strange})
    back = Message.decode(answer.encode())
    assert (back.hop_by_hop, back.end_to_end, back.is_request) == (5, 6, False)
    assert [a.code for a in back.avps] == [263, 268, 416, 99999]
    assert back.avps[-1] == strange


def test_enumerated_takes_names_and_unknown_numbers():
    (a,) = D.build({"CC-Request-Type": "TERMINATION_REQUEST"})
    (b,) = D.build({"CC-Request-Type": 77})  # RFC 6733 §4.3.1: receivers accept unknown values; so do we
    assert D.read([a])["CC-Request-Type"] == 3 and D.read([b])["CC-Request-Type"] == 77
    with pytest.raises(KeyError):
        D.build({"CC-Request-Type": "NO_SUCH_VALUE"})
    with pytest.raises(TypeError):
        D.build({"CC-Request-Number": True})
    with pytest.raises(KeyError):
        D.build({"No-Such-Avp": 1})


def test_flags_come_from_the_dictionary():
    (host, fw) = D.build({"Origin-Host": "a", "Firmware-Revision": 1})
    assert host.flags == 0x40 and fw.flags == 0  # RFC 6733 §4.5: Firmware-Revision must not have M
    (vendor,) = D.build({"Visited-PLMN-Id": b"\x00\xf1\x10"})
    assert (vendor.flags, vendor.vendor_id) == (0xC0, 10415)
