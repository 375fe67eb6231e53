"""Two nodes in memory under random sequences of requests, answers, silence, time and stops (hypothesis
stateful): the peer machines agree, every request we send ends exactly once, and every request received is
answered or its peer went down (RFC 6733 §5.6, §6.2; RFC 3539)."""

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ocs.diameter import avp
from ocs.diameter.node import AnswerReceived, PeerConfig, RequestFailed
from ocs.diameter.peer import OPEN_STATES, State
from tests.support.diameter_pair import Pair, ccr, make_node

SERVER, CLIENT = "ocs.test", "client.test"


class PairMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        server = make_node(SERVER, [PeerConfig(CLIENT)])
        client = make_node(CLIENT, [PeerConfig(SERVER, connect=("127.0.0.1", 3868))])
        self.p = Pair({SERVER: server, CLIENT: client}, auto_answer=False)
        client.start(self.p.now)
        self.p.pump()
        self.sent: dict[str, list[int]] = {SERVER: [], CLIENT: []}
        self.stopped: set[str] = set()
        self.lossy = False

    @rule(sender=st.sampled_from([SERVER, CLIENT]), n=st.integers(1, 5))
    def send(self, sender: str, n: int) -> None:
        other = CLIENT if sender == SERVER else SERVER
        for _ in range(n):
            hbh = self.p.nodes[sender].send_request(other, ccr(origin=sender), self.p.now)
            if hbh is not None:
                self.sent[sender].append(hbh)
        self.p.pump()

    @rule(k=st.integers(1, 10))
    def answer_some(self, k: int) -> None:
        batch, self.p.pending = self.p.pending[:k], self.p.pending[k:]
        for name, r in batch:
            self.p.nodes[name].send_answer(r.token, r.message.answer(
                [avp.u32(268, 2001), avp.utf8(264, name), avp.utf8(296, "test")]), self.p.now)
        self.p.pump()

    @rule(seconds=st.floats(0.1, 40))
    def advance(self, seconds: float) -> None:
        self.p.advance(seconds)

    @rule(name=st.sampled_from([SERVER, CLIENT]))
    def toggle_mute(self, name: str) -> None:
        self.p.muted ^= {name}
        self.lossy = True  # TCP never loses bytes on a live connection: after this the ends may disagree

    @precondition(lambda self: len(self.stopped) < 2)
    @rule(name=st.sampled_from([SERVER, CLIENT]))
    def stop(self, name: str) -> None:
        self.stopped.add(name)
        self.p.nodes[name].stop(self.p.now)
        self.p.pump()

    @invariant()
    def each_request_we_sent_ends_once(self) -> None:
        for name, sent in self.sent.items():
            ended = [e.hop_by_hop for e in self.p.seen[name] if isinstance(e, AnswerReceived | RequestFailed)]
            assert len(ended) == len(set(ended)), "a request ended twice"
            assert set(ended) <= set(sent)
            assert len(sent) - len(ended) == len(self.p.nodes[name]._ids)  # the rest still wait

    @invariant()
    def open_peers_hold_a_live_connection(self) -> None:
        for node in self.p.nodes.values():
            for peer in node._peers:
                if peer.state in OPEN_STATES | {State.CLOSING}:
                    assert peer.active is not None and peer.active.id in node._conns
                if peer.state is State.CLOSED:
                    assert peer.i_conn is None and peer.r_conn is None and peer.active is None

    @invariant()
    def both_ends_agree_when_the_link_is_quiet(self) -> None:
        if self.lossy or self.stopped:
            return
        server_open = self.p.nodes[SERVER].peer_state(CLIENT) is State.R_OPEN
        client_open = self.p.nodes[CLIENT].peer_state(SERVER) is State.I_OPEN
        assert server_open and client_open

    @invariant()
    def in_flight_matches_requests_handed_out(self) -> None:
        for name, node in self.p.nodes.items():
            assert node.in_flight == sum(1 for n, _ in self.p.pending if n == name)


PairMachine.TestCase.settings = settings(max_examples=100, stateful_step_count=40, deadline=None)
TestPair = PairMachine.TestCase
