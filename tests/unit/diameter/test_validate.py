"""AVP-level request checks (RFC 6733 §7.1.5): 5009 for a repeated single-valued AVP, 5014 for an AVP whose
length does not fit its dictionary type, with Failed-AVP; in check_request and through the node."""

from __future__ import annotations

import pytest

from ocs.diameter import avp
from ocs.diameter.dictionary import default_dictionary
from ocs.diameter.errors import DiameterError
from ocs.diameter.message import Message
from ocs.diameter.node import AnswerReceived, PeerConfig, RequestReceived
from ocs.diameter.validate import check_request
from tests.support.diameter_pair import Pair, ccr, make_node

TGPP = 10415
SERVER, CLIENT = "ocs.test", "client.test"


def air(*extra: avp.Avp) -> Message:
    return Message(318, 16777251, 0xC0, 1, 2, [
        avp.utf8(263, "mme;1"), avp.u32(277, 1), avp.utf8(264, "mme.test"), avp.utf8(296, "test"),
        avp.utf8(283, "test"), avp.utf8(1, "001010000000001"), avp.octets(1407, b"\x00\xf1\x10", TGPP), *extra])


def refusal(message: Message, depth: int = 0) -> DiameterError:
    with pytest.raises(DiameterError) as e:
        check_request(default_dictionary(), message, depth)
    return e.value


def test_a_well_formed_request_passes():
    check_request(default_dictionary(), air(avp.grouped(1408, [avp.u32(1410, 2, TGPP)], TGPP)))
    check_request(default_dictionary(), ccr(extra=[avp.grouped(456, [avp.u32(432, 1)]),
                                                   avp.grouped(456, [avp.u32(432, 2)])]))  # *[MSCC]


@pytest.mark.parametrize("repeated", [
    avp.utf8(264, "other.test"),                  # Origin-Host: single in every request (base.toml)
    avp.utf8(1, "001010000000002"),               # User-Name
    avp.octets(1407, b"\x00\xf1\x10", TGPP),      # Visited-PLMN-Id: single in the AIR (TS 29.272 §7.2.5)
])
def test_a_single_valued_avp_repeated_is_5009_with_the_second_instance(repeated):
    e = refusal(air(repeated))
    assert e.result_code == 5009 and e.failed_avp == repeated


def test_a_multi_valued_avp_may_repeat():
    check_request(default_dictionary(), air(avp.utf8(282, "dra1.test"), avp.utf8(282, "dra2.test")))  # Route-Record


@pytest.mark.parametrize("bad", [
    avp.Avp(277, 0x40, 0, b"\x00\x00\x01"),                  # a 3-octet Enumerated (Auth-Session-State)
    avp.Avp(1410, 0xC0, TGPP, b"\x00\x00\x00\x01\x00"),      # a 5-octet Unsigned32 (Number-Of-Requested-Vectors)
    avp.Avp(55, 0x40, 0, b"\x00"),                           # a 1-octet Time (Event-Timestamp)
    avp.Avp(257, 0x40, 0, b"\x00\x01\x7f\x00\x00"),          # an IPv4 Address of 5 octets (Host-IP-Address)
])
def test_a_length_that_does_not_fit_the_type_is_5014(bad):
    message = air() if bad.code != 277 else Message(318, 16777251, 0xC0, 1, 2, [a for a in air().avps
                                                                                   if a.code != 277])
    e = refusal(Message(318, 16777251, 0xC0, 1, 2, [*message.avps, bad]))
    assert e.result_code == 5014 and e.failed_avp == bad


def test_a_bad_member_of_a_grouped_avp_is_5014_inside_its_groups():
    bad = avp.Avp(1410, 0xC0, TGPP, b"\x00\x00\x01")
    message = air(avp.grouped(1408, [bad], TGPP))
    check_request(default_dictionary(), message)  # the node's check: the top level only
    e = refusal(message, depth=1)
    assert e.result_code == 5014
    assert e.failed_avp is not None and e.failed_avp.code == 1408 and e.failed_avp.grouped == [bad]  # RFC 6733 §7.5
    usu = avp.grouped(446, [avp.Avp(421, 0x40, 0, b"\x00" * 7)])  # CC-Total-Octets (Unsigned64) of 7 octets
    e = refusal(ccr(extra=[avp.grouped(456, [avp.u32(432, 1), usu])]), depth=2)
    assert e.result_code == 5014 and e.failed_avp is not None
    outer = e.failed_avp
    assert outer.code == 456 and outer.grouped[0].code == 446 and outer.grouped[0].grouped[0].code == 421
    check_request(default_dictionary(), ccr(extra=[avp.grouped(456, [avp.u32(432, 1), usu])]), depth=1)


def test_unknown_avps_are_not_checked():
    check_request(default_dictionary(), air(avp.Avp(64999, 0, 0, b"\x01\x02\x03")))


def _pair() -> Pair:
    server = make_node(SERVER, [PeerConfig(CLIENT)])
    client = make_node(CLIENT, [PeerConfig(SERVER, connect=("127.0.0.1", 3868))])
    p = Pair({SERVER: server, CLIENT: client})
    client.start(p.now)
    p.pump()
    return p


@pytest.mark.parametrize(("extra", "code", "failed"), [
    ([avp.u32(415, 1)], 5009, 415),                                    # CC-Request-Number twice
    ([avp.Avp(455, 0x40, 0, b"\x00\x00\x01")], 5014, 455),             # Multiple-Services-Indicator, 3 octets
])
def test_the_node_answers_with_the_check_and_the_handler_never_sees_it(extra, code, failed):
    p = _pair()
    p.nodes[CLIENT].send_request(SERVER, ccr(extra=extra), p.now)
    p.pump()
    (got,) = p.of(CLIENT, AnswerReceived)
    assert got.message.find(268).u32 == code  # type: ignore[union-attr]
    assert got.message.find(279).grouped[0].code == failed  # type: ignore[union-attr]
    assert not p.of(SERVER, RequestReceived)
