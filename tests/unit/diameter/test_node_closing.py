"""Closing (RFC 6733 §5.4, §5.6): answers owed go out before our DPR, and the connection stays up for DWA,
answers to our requests and a crossing DPR until the DPA comes (issue 12 point 1)."""

from ocs.diameter import avp
from ocs.diameter.message import Message
from ocs.diameter.node import AnswerReceived, NodeSettings, PeerConfig, PeerDown, RequestReceived
from ocs.diameter.peer import State
from tests.support.diameter_pair import ccr
from tests.support.diameter_raw import Server, request, result

CLIENT = "client.test"


def closing() -> tuple[Server, int]:
    s = Server.make([PeerConfig(CLIENT)])
    conn = s.open(CLIENT)
    s.node.stop(s.now)
    (dpr,) = s.messages(s.pop(), conn)
    assert dpr.command_code == 282 and dpr.is_request
    assert s.node.peer_state(CLIENT) is State.CLOSING
    return s, conn


def answer_to(m: Message, *avps: avp.Avp) -> bytes:
    return m.answer([avp.u32(268, 2001), avp.utf8(264, CLIENT), avp.utf8(296, "test"), *avps]).encode()


def test_dwa_in_closing_does_not_cut_the_connection():
    s, conn = closing()
    dwr = Message(280, 0, 0x80, 55, 55, [avp.utf8(264, "ocs.test"), avp.utf8(296, "test")])
    effects = s.feed(conn, answer_to(dwr))
    assert not s.closed(effects, conn)
    assert s.node.peer_state(CLIENT) is State.CLOSING


def test_dwr_in_closing_is_answered():
    s, conn = closing()
    effects = s.feed(conn, Message(280, 0, 0x80, 56, 56, [avp.utf8(264, CLIENT), avp.utf8(296, "test")]))
    (dwa,) = s.messages(effects, conn)
    assert dwa.command_code == 280 and result(dwa) == 2001
    assert s.node.peer_state(CLIENT) is State.CLOSING


def test_answer_to_our_request_arrives_in_closing():
    s = Server.make([PeerConfig(CLIENT)])
    conn = s.open(CLIENT)
    hbh = s.node.send_request(CLIENT, ccr(origin="ocs.test"), s.now)
    (sent,) = s.messages(s.pop(), conn)
    s.node.stop(s.now)
    s.pop()
    effects = s.feed(conn, answer_to(sent))
    assert [e.hop_by_hop for e in effects if isinstance(e, AnswerReceived)] == [hbh]
    assert not s.closed(effects, conn) and s.node.peer_state(CLIENT) is State.CLOSING


def test_crossing_dpr_is_answered_and_we_wait_for_our_dpa():
    s, conn = closing()
    effects = s.feed(conn, Message(282, 0, 0x80, 57, 57, [avp.utf8(264, CLIENT), avp.utf8(296, "test"),
                                                         avp.u32(273, 0)]))
    (dpa,) = s.messages(effects, conn)
    assert dpa.command_code == 282 and not dpa.is_request and result(dpa) == 2001
    assert not s.closed(effects, conn) and s.node.peer_state(CLIENT) is State.CLOSING
    dpr = s.messages(s.effects, conn)[1]
    effects = s.feed(conn, answer_to(dpr))
    assert s.closed(effects, conn) and s.node.peer_state(CLIENT) is State.CLOSED
    assert any(isinstance(e, PeerDown) for e in effects)


def test_requests_in_flight_are_answered_before_the_dpr():
    s = Server.make([PeerConfig(CLIENT)])
    conn = s.open(CLIENT)
    got = [e for e in s.feed(conn, request(CLIENT, e2e=1, hop_by_hop=11) .encode() +
                              request(CLIENT, e2e=2, hop_by_hop=12).encode()) if isinstance(e, RequestReceived)]
    assert len(got) == 2
    s.node.stop(s.now)
    assert not s.messages(s.pop(), conn), "no DPR while requests are in flight"
    for r in got:
        s.node.send_answer(r.token, answer_to(r.message), s.now)
    written = s.messages(s.pop(), conn)
    assert [(m.command_code, m.is_request) for m in written] == [(272, False), (272, False), (282, True)]
    assert s.node.peer_state(CLIENT) is State.CLOSING


def test_a_request_crossing_our_dpr_gets_3004():
    s, conn = closing()
    (answer,) = s.messages(s.feed(conn, request(CLIENT)), conn)
    assert result(answer) == 3004 and answer.is_error
    assert s.node.peer_state(CLIENT) is State.CLOSING


def test_the_dpr_waits_for_answers_no_longer_than_the_drain_timeout():
    s = Server.make([PeerConfig(CLIENT)], settings=NodeSettings(drain_timeout=3.0))
    conn = s.open(CLIENT)
    s.feed(conn, request(CLIENT))
    s.node.stop(s.now)
    assert not s.messages(s.pop(), conn)
    assert s.node.next_deadline() == s.now + 3.0
    s.node.on_timer(s.now + 3.0)
    (dpr,) = s.messages(s.pop(), conn)
    assert dpr.command_code == 282
