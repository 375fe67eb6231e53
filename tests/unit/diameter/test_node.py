"""The node and peer machine driven in memory: CER/CEA, watchdog, DPR, election, errors (RFC 6733, RFC 3539)."""

import pytest

from ocs.diameter import avp
from ocs.diameter.capabilities import Application
from ocs.diameter.codes import FLAG_RETRANSMIT
from ocs.diameter.message import Message
from ocs.diameter.node import (
    AnswerReceived,
    Close,
    NodeSettings,
    Notice,
    PeerConfig,
    PeerDown,
    PeerUp,
    RequestFailed,
    RequestReceived,
    Write,
)
from ocs.diameter.peer import State
from tests.support.diameter_pair import Pair, ccr, make_node

SERVER, CLIENT = "ocs.test", "client.test"


GY = (Application(4),)


def pair(client_apps=GY, server_peers=None, settings=None) -> Pair:
    server = make_node(SERVER, server_peers if server_peers is not None else [PeerConfig(CLIENT)],
                       settings=settings)
    client = make_node(CLIENT, [PeerConfig(SERVER, connect=("127.0.0.1", 3868))], client_apps, settings=settings)
    p = Pair({SERVER: server, CLIENT: client})
    client.start(p.now)
    p.pump()
    return p


def answers_of(p: Pair, name: str) -> list[Message]:
    """Answers `name` wrote, decoded."""
    out = []
    for e in p.seen[name]:
        if isinstance(e, Write):
            m = Message.decode(e.data)
            if not m.is_request:
                out.append(m)
    return out


def result_of(m: Message) -> int:
    return m.find(268).u32


def test_capabilities_exchange_opens_both_sides():
    p = pair()
    assert p.nodes[SERVER].peer_state(CLIENT) is State.R_OPEN
    assert p.nodes[CLIENT].peer_state(SERVER) is State.I_OPEN
    (up,) = p.of(SERVER, PeerUp)
    assert up.capabilities.origin_host == CLIENT and 4 in up.capabilities.auth_application_ids
    cea = answers_of(p, SERVER)[0]
    assert cea.command_code == 257 and result_of(cea) == 2001
    assert cea.find(258).u32 == 4  # the common application is named (RFC 6733 §5.3.2)


def test_unknown_origin_host_is_refused_with_3010():
    p = pair(server_peers=[PeerConfig("someone-else.test")])
    cea = answers_of(p, SERVER)[0]
    assert result_of(cea) == 3010 and cea.is_error
    assert p.nodes[CLIENT].peer_state(SERVER) is State.CLOSED
    assert p.of(SERVER, Close)


def test_no_common_application_is_5010():
    p = pair(client_apps=(Application(16777251, 10415),))
    assert result_of(answers_of(p, SERVER)[0]) == 5010
    assert p.nodes[CLIENT].peer_state(SERVER) is State.CLOSED


def test_watchdog_dwr_dwa_keeps_peer_open():
    p = pair()
    p.advance(33)  # Tw = 30 +- 2 s (RFC 3539 §3.4.1)
    dwrs = [Message.decode(e.data) for e in p.of(CLIENT, Write) if Message.decode(e.data).command_code == 280]
    assert dwrs, "the client's watchdog sent a DWR"
    assert any(m.command_code == 280 and result_of(m) == 2001 for m in answers_of(p, SERVER))
    p.advance(300)
    assert p.nodes[CLIENT].peer_state(SERVER) is State.I_OPEN


def test_silent_peer_goes_suspect_then_down_and_is_reconnected():
    p = pair()
    p.muted.add(SERVER)
    p.advance(100)
    notices = [n.event for n in p.of(CLIENT, Notice)]
    assert "watchdog-suspect" in notices and "watchdog-down" in notices
    assert p.of(CLIENT, PeerDown)
    p.muted.clear()
    p.advance(40)  # Tc = 30 s
    assert p.nodes[CLIENT].peer_state(SERVER) is State.I_OPEN


def test_stop_sends_dpr_and_closes_after_dpa():
    p = pair()
    p.nodes[SERVER].stop(p.now)
    p.pump()
    dpr = [Message.decode(e.data) for e in p.of(SERVER, Write) if Message.decode(e.data).command_code == 282]
    assert dpr and dpr[0].is_request and dpr[0].find(273).u32 == 0  # Disconnect-Cause REBOOTING
    assert p.nodes[SERVER].all_closed
    assert p.nodes[CLIENT].peer_state(SERVER) is State.CLOSED


def test_dpr_without_dpa_times_out():
    p = pair()
    p.links.clear()  # the client vanished without closing: the DPR goes nowhere
    p.nodes[SERVER].stop(p.now)
    p.pump()
    assert p.nodes[SERVER].peer_state(CLIENT) is State.CLOSING
    p.advance(6)
    assert p.nodes[SERVER].peer_state(CLIENT) is State.CLOSED


def test_request_answer_correlation():
    p = pair()
    hbh = p.nodes[CLIENT].send_request(SERVER, ccr(), p.now)
    p.pump()
    (got,) = p.of(CLIENT, AnswerReceived)
    assert got.hop_by_hop == hbh and result_of(got.message) == 2001


def test_request_timeout():
    p = pair()
    p.auto_answer = False
    hbh = p.nodes[CLIENT].send_request(SERVER, ccr(), p.now)
    p.pump()
    p.advance(11)
    (failed,) = p.of(CLIENT, RequestFailed)
    assert failed.hop_by_hop == hbh and failed.reason == "timeout"


def test_send_to_closed_peer_is_refused():
    p = pair(server_peers=[])
    assert p.nodes[CLIENT].send_request(SERVER, ccr(), p.now) is None


@pytest.mark.parametrize(("message", "code"), [
    (Message(272, 16777238, 0xC0, 0, 0, [avp.utf8(263, "s"), avp.utf8(264, CLIENT)]), 3007),
    (Message(271, 4, 0xC0, 0, 0, [avp.utf8(263, "s"), avp.utf8(264, CLIENT)]), 3001),
    (ccr(drop=416), 5005),
    (ccr(extra=[avp.u32(64999, 1)]), 5001),
])
def test_error_answers(message, code):
    p = pair()
    p.nodes[CLIENT].send_request(SERVER, message, p.now)
    p.pump()
    (got,) = p.of(CLIENT, AnswerReceived)
    answer = got.message
    assert result_of(answer) == code
    assert answer.is_error == (3000 <= code < 4000)  # RFC 6733 §7.1.3
    assert answer.find(263).utf8 == "s" if code < 5000 else True
    if code == 5001:
        assert answer.find(279).grouped[0].code == 64999  # Failed-AVP names it (RFC 6733 §7.5)
    if code == 5005:
        assert answer.find(279).grouped[0].code == 416
    assert not p.of(SERVER, RequestReceived)


def test_in_flight_limit_answers_3004():
    p = pair(settings=NodeSettings(in_flight_limit=2))
    p.auto_answer = False
    for i in range(3):
        p.nodes[CLIENT].send_request(SERVER, ccr(session=f"s;{i}"), p.now)
    p.pump()
    assert len(p.of(SERVER, RequestReceived)) == 2
    (busy,) = p.of(CLIENT, AnswerReceived)
    assert result_of(busy.message) == 3004 and busy.message.is_error


def test_retransmission_gets_the_cached_answer_and_is_not_dispatched_again():
    p = pair()
    request = ccr()
    p.nodes[CLIENT].send_request(SERVER, request, p.now)
    p.pump()
    again = Message.decode(request.encode())
    again.flags |= FLAG_RETRANSMIT
    again.hop_by_hop = 0  # the client picks a new hop-by-hop id
    p.nodes[CLIENT].send_request(SERVER, again, p.now)
    p.pump()
    assert len(p.of(SERVER, RequestReceived)) == 1
    first, second = p.of(CLIENT, AnswerReceived)
    assert first.message.avps == second.message.avps
    assert second.hop_by_hop == again.hop_by_hop


def test_garbage_closes_only_that_connection():
    p = pair()
    server = p.nodes[SERVER]
    stray = server.connection_made(p.now)
    server.data_received(stray, b"\x07garbage-garbage-garbage", p.now)
    effects = server.pop_effects()
    assert Close(stray) in effects
    assert any(isinstance(e, Notice) and e.event == "framing-error" for e in effects)
    assert server.peer_state(CLIENT) is State.R_OPEN


def test_first_message_must_be_cer():
    p = pair()
    server = p.nodes[SERVER]
    stray = server.connection_made(p.now)
    server.data_received(stray, ccr().encode(), p.now)
    assert Close(stray) in server.pop_effects()


def test_inbound_connection_without_cer_times_out():
    p = pair()
    server = p.nodes[SERVER]
    stray = server.connection_made(p.now)
    p.advance(11)
    assert any(isinstance(e, Close) and e.conn_id == stray for e in p.seen[SERVER])


def test_connect_failure_retries_after_tc():
    server = make_node(SERVER, [PeerConfig(CLIENT)])
    client = make_node(CLIENT, [PeerConfig(SERVER, connect=("127.0.0.1", 3868))])
    p = Pair({SERVER: server, CLIENT: client}, refuse_connect={SERVER})
    client.start(p.now)
    p.pump()
    assert client.peer_state(SERVER) is State.CLOSED
    p.refuse_connect.clear()
    p.advance(31)
    assert client.peer_state(SERVER) is State.I_OPEN


@pytest.mark.parametrize(("a", "b"), [("a.test", "b.test"), ("b.test", "a.test")])
def test_election_on_simultaneous_connect_leaves_one_connection(a, b):
    # RFC 6733 §5.6.4: both connect at once; the higher Origin-Host keeps the connection it accepted
    na = make_node(a, [PeerConfig(b, connect=("127.0.0.1", 1))])
    nb = make_node(b, [PeerConfig(a, connect=("127.0.0.1", 2))])
    p = Pair({a: na, b: nb})
    na.start(p.now)
    nb.start(p.now)
    p.pump()
    high, low = max(a, b), min(a, b)
    assert p.nodes[high].peer_state(low) is State.R_OPEN
    assert p.nodes[low].peer_state(high) is State.I_OPEN
    assert len(p.links) == 2  # one connection, both ends
    hbh = p.nodes[low].send_request(high, ccr(origin=low), p.now)
    p.pump()
    assert [e.hop_by_hop for e in p.of(low, AnswerReceived)] == [hbh]
