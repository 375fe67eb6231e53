"""The pure parts of the S6a application: request parsing, Subscription-Data, Authentication-Info, answers."""

from __future__ import annotations

import pytest

from ocs.apps import s6a
from ocs.apps.s6a import ApnProfile, Identity, SubscriberProfile
from ocs.diameter import avp
from ocs.diameter.dictionary import default_dictionary
from ocs.diameter.errors import DiameterError
from ocs.diameter.message import Message

TGPP = 10415
ME = Identity("hss.test", "test")


def air(*extra: avp.Avp, user: str = "001010000000001", plmn: bytes | None = b"\x00\xf1\x10") -> Message:
    avps = [avp.utf8(263, "mme.test;1;1"), avp.u32(277, 1), avp.utf8(264, "mme.test"), avp.utf8(296, "test"),
            avp.utf8(283, "test"), avp.utf8(1, user), *extra]
    if plmn is not None:
        avps.append(avp.octets(1407, plmn, TGPP))
    return Message(318, s6a.APP_S6A, 0xC0, 1, 2, avps)


def test_tbcd_msisdn():
    # TS 29.002 §17.7.8: "15550001" -> 51 55 00 10; odd length padded with F in the high nibble
    assert s6a.tbcd("15550001") == bytes.fromhex("51550010")
    assert s6a.tbcd("123") == bytes.fromhex("21f3")


@pytest.mark.parametrize(("plmn", "digits"), [("00f110", "00101"), ("130062", "310260"), ("62f220", "26202")])
def test_plmn_digits(plmn, digits):
    assert s6a.plmn_digits(bytes.fromhex(plmn)) == digits


def test_parse_air_counts_and_resync():
    resync = avp.octets(1411, bytes(range(30)), TGPP)
    r = s6a.parse_air(air(avp.grouped(1408, [avp.u32(1410, 9, TGPP), resync], TGPP)), max_vectors=5)
    assert (r.imsi, r.eutran, r.utran, r.resync_info) == ("001010000000001", 5, 0, bytes(range(30)))
    r = s6a.parse_air(air(avp.grouped(1409, [avp.u32(1410, 2, TGPP)], TGPP)))
    assert (r.eutran, r.utran, r.resync_info) == (0, 2, None)


def test_parse_air_refuses_bad_input_with_failed_avp():
    with pytest.raises(DiameterError) as e:
        s6a.parse_air(air(user="00101abc"))
    assert e.value.result_code == 5004 and e.value.failed_avp is not None and e.value.failed_avp.code == 1
    with pytest.raises(DiameterError) as e:
        s6a.parse_air(air(plmn=b"\x00\xf1"))
    assert e.value.result_code == 5014 and e.value.failed_avp.code == 1407  # type: ignore[union-attr]
    with pytest.raises(DiameterError) as e:
        s6a.parse_air(air(plmn=None))
    assert e.value.result_code == 5005


def test_subscription_data_tree_as_open5gs_needs_it():
    d = default_dictionary()
    profile = SubscriberProfile("001010000000001", "15550001", "active", ("internet", "ims"), 50_000_000, 100_000_000)
    sd = s6a.subscription_data(profile, {"ims": ApnProfile("ims", qci=5, arp_priority=1, pdn_type="ipv4v6")})
    tree = dict(d.tree(sd.grouped))
    assert tree["MSISDN"] == bytes.fromhex("51550010")
    assert tree["Subscriber-Status"] == 0 and tree["Network-Access-Mode"] == 2
    assert dict(tree["AMBR"]) == {"Max-Requested-Bandwidth-UL": 50_000_000, "Max-Requested-Bandwidth-DL": 100_000_000}
    profile_tree = tree["APN-Configuration-Profile"]
    assert profile_tree[0] == ("Context-Identifier", 1)
    configs = [dict(v) for k, v in profile_tree if k == "APN-Configuration"]
    assert [c["Service-Selection"] for c in configs] == ["internet", "ims"]
    assert [c["PDN-Type"] for c in configs] == [2, 2]
    qos = [dict(c["EPS-Subscribed-QoS-Profile"]) for c in configs]
    assert [q["QoS-Class-Identifier"] for q in qos] == [9, 5]
    assert dict(qos[1]["Allocation-Retention-Priority"])["Priority-Level"] == 1


def test_barred_subscriber_gets_operator_determined_barring():
    d = default_dictionary()
    profile = SubscriberProfile("001010000000001", "15550001", "barred", ("internet",), 1, 1)
    tree = dict(d.tree(s6a.subscription_data(profile, {}).grouped))
    assert tree["Subscriber-Status"] == 1 and tree["Operator-Determined-Barring"] == 1


def test_answer_carries_auth_session_state_and_experimental_result():
    a = s6a.answer(air(), ME, s6a.experimental(s6a.DIAMETER_ERROR_USER_UNKNOWN))
    d = default_dictionary()
    tree = d.tree(Message.decode(a.encode()).avps)
    names = [n for n, _ in tree]
    assert names[:4] == ["Session-Id", "Vendor-Specific-Application-Id", "Experimental-Result", "Auth-Session-State"]
    assert dict(dict(tree)["Experimental-Result"]) == {"Vendor-Id": TGPP, "Experimental-Result-Code": 5001}
    assert not a.is_error  # an Experimental-Result is not a protocol error: no E bit (RFC 6733 §7.1)
