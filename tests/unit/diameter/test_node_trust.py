"""Peer trust and limits at the node (issue 14 points 1-4): a peer is who its CER says and uses only what it
may; bounded before the CER; a fair in-flight share; base protocol checks on the CER."""

from ocs.diameter import avp
from ocs.diameter.codes import FLAG_RETRANSMIT
from ocs.diameter.node import NodeSettings, Notice, PeerConfig, PeerUp, RequestReceived
from ocs.diameter.peer import State
from tests.support.diameter_raw import GY, S6A, Server, cer, request, result

MME, PGW = "mme.test", "pgw.test"


def received(effects) -> list[RequestReceived]:
    return [e for e in effects if isinstance(e, RequestReceived)]


def answer(s: Server, r: RequestReceived, text: str) -> None:
    s.node.send_answer(r.token, r.message.answer([avp.u32(268, 2001), avp.utf8(264, "ocs.test"),
                                                  avp.utf8(296, "test"), avp.utf8(281, text, mandatory=False)]),
                       s.now)


# --- point 1: identity ----------------------------------------------------------------------------------------

def test_request_carries_the_connection_and_the_realm_the_cer_proved():
    s = Server.make([PeerConfig(MME, realm="test")])
    conn = s.open(MME)
    (r,) = received(s.feed(conn, request(MME)))
    assert (r.peer, r.conn_id, r.realm) == (MME, conn, "test")


def test_spoofed_origin_host_is_refused_with_3010():
    s = Server.make([PeerConfig(MME), PeerConfig(PGW)])
    conn = s.open(PGW)
    effects = s.feed(conn, request(MME))
    assert not received(effects)
    (refusal,) = s.messages(effects, conn)
    assert result(refusal) == 3010 and refusal.is_error  # RFC 6733 §7.1.3


def test_spoofed_origin_realm_is_refused_with_3003():
    s = Server.make([PeerConfig(PGW)])
    conn = s.open(PGW)
    effects = s.feed(conn, request(PGW, realm="other.realm"))
    assert not received(effects)
    assert result(s.messages(effects, conn)[0]) == 3003


def test_a_relay_may_forward_for_others():
    s = Server.make([PeerConfig("dra.test", relay=True)])
    conn = s.open("dra.test")
    assert len(received(s.feed(conn, request(MME, realm="visited.net")))) == 1


def test_a_replayed_end_to_end_id_never_returns_another_peers_answer():
    # the PGW replays the MME's request (T flag, MME's Origin-Host and End-to-End-Id): it must not get the
    # MME's answer (with its vectors) from the duplicate cache
    s = Server.make([PeerConfig(MME), PeerConfig(PGW, relay=True)])
    mme, pgw = s.open(MME), s.open(PGW)
    (r,) = received(s.feed(mme, request(MME, e2e=4242)))
    answer(s, r, "secret for the MME")
    effects = s.feed(pgw, request(MME, e2e=4242, flags=0xC0 | FLAG_RETRANSMIT))
    assert not any(b"secret for the MME" in m.encode() for m in s.messages(effects, pgw))
    assert len(received(effects)) == 1  # a new request of the relay's, handled on its own


def test_a_retransmission_from_the_same_peer_still_gets_the_cached_answer():
    s = Server.make([PeerConfig(MME)])
    conn = s.open(MME)
    (r,) = received(s.feed(conn, request(MME, e2e=9)))
    answer(s, r, "first")
    s.pop()
    effects = s.feed(conn, request(MME, e2e=9, hop_by_hop=555, flags=0xC0 | FLAG_RETRANSMIT))
    assert not received(effects)
    (again,) = s.messages(effects, conn)
    assert again.hop_by_hop == 555 and again.find(281).utf8 == "first"


def test_applications_a_peer_may_use():
    s = Server.make([PeerConfig(MME, applications=frozenset({16777251}))], apps=(GY, S6A))
    conn = s.connect()
    (cea,) = s.messages(s.feed(conn, cer(MME, apps=(4, 16777251))), conn)
    assert result(cea) == 2001
    assert not cea.find(258) or cea.find(258).u32 != 4  # Gy is not offered to it
    effects = s.feed(conn, request(MME, app=4))
    assert not received(effects) and result(s.messages(effects, conn)[0]) == 3007


def test_cer_from_the_wrong_realm_is_refused_and_closed():
    s = Server.make([PeerConfig(MME, realm="epc.example")])
    conn = s.connect()
    effects = s.feed(conn, cer(MME, realm="elsewhere.example"))
    (cea,) = s.messages(effects, conn)
    assert result(cea) == 3010 and s.closed(effects, conn)
    assert s.node.peer_state(MME) is State.CLOSED


# --- point 2: bounded before and after the CER ---------------------------------------------------------------

def test_connections_over_the_total_cap_are_closed_at_once():
    s = Server.make([PeerConfig(MME)], settings=NodeSettings(max_connections=2))
    s.open(MME)
    s.connect()
    third = s.connect()
    assert s.closed(s.effects, third)
    (notice,) = [e for e in s.effects if isinstance(e, Notice) and e.event == "connection-limit"]
    assert notice.conn_id == third


def test_connections_not_past_cer_have_their_own_cap():
    s = Server.make([PeerConfig(MME), PeerConfig(PGW)], settings=NodeSettings(max_pending_connections=1))
    first = s.connect()
    second = s.connect()
    assert s.closed(s.effects, second) and not s.closed(s.effects, first)
    s.feed(first, cer(MME))  # past the CER: it no longer counts as pending
    third = s.connect()
    assert not s.closed(s.effects, third)


def test_an_anonymous_connection_announcing_a_big_frame_is_closed_from_the_header():
    s = Server.make([PeerConfig(MME)])
    conn = s.connect()
    effects = s.feed(conn, bytes([1]) + (1 << 20).to_bytes(3, "big") + b"\x80\x00\x01\x01")  # 1 MiB "CER"
    assert s.closed(effects, conn)
    (notice,) = [e for e in effects if isinstance(e, Notice)]
    assert notice.event == "framing-error" and notice.conn_id == conn


def test_after_the_cer_big_messages_are_accepted():
    s = Server.make([PeerConfig(MME)])
    conn = s.open(MME)
    big = request(MME)
    big.avps.append(avp.octets(281, b"x" * 8000, mandatory=False))
    assert len(received(s.feed(conn, big))) == 1


def test_the_origin_host_is_looked_up_before_the_rest_of_the_cer():
    s = Server.make([PeerConfig(MME)])
    conn = s.connect()
    bad = cer("stranger.test", extra=[avp.u32(64999, 1)])  # unknown, an unknown M-bit AVP, no Host-IP-Address
    bad.avps[:] = [a for a in bad.avps if a.code != 257]
    (cea,) = s.messages(s.feed(conn, bad), conn)
    assert result(cea) == 3010  # refused as unknown before any other check (not 5001 or 5005)


# --- point 3: in-flight limit shared fairly ------------------------------------------------------------------

def test_one_busy_peer_cannot_take_another_peers_share():
    s = Server.make([PeerConfig(MME), PeerConfig(PGW)],
                    settings=NodeSettings(in_flight_limit=8, in_flight_floor=2))
    mme, pgw = s.open(MME), s.open(PGW)
    flood = b"".join(request(MME, e2e=i, hop_by_hop=i).encode() for i in range(20))
    effects = s.feed(mme, flood)
    assert len(received(effects)) == 4  # its share: 8 // 2 open peers
    assert {result(m) for m in s.messages(effects, mme)} == {3004}
    effects = s.feed(pgw, b"".join(request(PGW, e2e=i, hop_by_hop=i).encode() for i in range(4)))
    assert len(received(effects)) == 4 and not s.messages(effects, pgw)


def test_share_has_a_floor():
    settings = NodeSettings(in_flight_limit=4, in_flight_floor=3)
    s = Server.make([PeerConfig(f"p{i}.test") for i in range(4)], settings=settings)
    conns = [s.open(f"p{i}.test") for i in range(4)]
    effects = s.feed(conns[0], b"".join(request("p0.test", e2e=i).encode() for i in range(5)))
    assert len(received(effects)) == 3  # 4 // 4 = 1, raised to the floor


# --- point 4: base protocol checks on the CER ---------------------------------------------------------------

def test_unknown_mandatory_avp_in_cer_gets_5001_and_close():
    s = Server.make([PeerConfig(MME)])
    conn = s.connect()
    effects = s.feed(conn, cer(MME, extra=[avp.u32(64999, 1)]))
    (cea,) = s.messages(effects, conn)
    assert result(cea) == 5001
    assert cea.find(279).grouped[0].code == 64999  # Failed-AVP (RFC 6733 §7.5)
    assert s.closed(effects, conn) and s.node.peer_state(MME) is State.CLOSED


def test_second_cer_on_an_open_connection_loses_no_answer_in_flight():
    s = Server.make([PeerConfig(MME)])
    conn = s.open(MME)
    (r,) = received(s.feed(conn, request(MME)))
    effects = s.feed(conn, cer(MME, hop_by_hop=2))
    assert not s.closed(effects, conn)  # RFC 6733 §5.6 R-Reject, once the answers owed are out
    assert not received(s.feed(conn, request(MME, e2e=99)))  # nothing more is read from it
    answer(s, r, "owed")
    effects = s.pop()
    (owed,) = s.messages(effects, conn)
    assert owed.find(281).utf8 == "owed"
    assert s.closed(effects, conn) and s.node.peer_state(MME) is State.CLOSED


def test_second_cer_without_answers_owed_closes_at_once():
    s = Server.make([PeerConfig(MME)])
    conn = s.open(MME)
    effects = s.feed(conn, cer(MME, hop_by_hop=2))
    assert s.closed(effects, conn) and s.node.peer_state(MME) is State.CLOSED
    assert any(isinstance(e, PeerUp) for e in s.effects)


def test_an_outbound_peer_whose_cea_names_another_realm_is_not_opened():
    from tests.support.diameter_pair import Pair, make_node
    server = make_node("ocs.test", [PeerConfig(MME)])
    client = make_node(MME, [PeerConfig("ocs.test", realm="elsewhere", connect=("127.0.0.1", 3868))])
    p = Pair({"ocs.test": server, MME: client})
    client.start(p.now)
    p.pump()
    assert client.peer_state("ocs.test") is State.CLOSED
