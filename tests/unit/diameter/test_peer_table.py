"""The RFC 6733 §5.6 table: every (state, event) pair is an explicit row, and its invariants hold on any run."""

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ocs.diameter.peer import (
    OPEN_STATES,
    RFC_ROWS,
    TRANSITIONS,
    Act,
    Event,
    PeerMachine,
    State,
    Timers,
    elect,
    transition,
)

S, E, A = State, Event, Act
TIMED = Timers(connect=10.0, cea=10.0, dpa=5.0)
TIMED_STATES = {S.WAIT_CONN_ACK, S.WAIT_I_CEA, S.WAIT_CONN_ACK_ELECT, S.WAIT_RETURNS, S.CLOSING}
I_EVENTS = {E.I_RCV_CEA, E.I_RCV_NON_CEA, E.I_RCV_MESSAGE, E.I_RCV_DWR, E.I_RCV_DWA, E.I_RCV_DPR, E.I_RCV_DPA,
            E.I_PEER_DISC}
R_EVENTS = {E.R_RCV_MESSAGE, E.R_RCV_DWR, E.R_RCV_DWA, E.R_RCV_DPR, E.R_RCV_DPA, E.R_PEER_DISC}
# the connections each state holds: (ours, theirs)
HOLDS = {S.CLOSED: (False, False), S.WAIT_CONN_ACK: (False, False), S.WAIT_I_CEA: (True, False),
         S.WAIT_CONN_ACK_ELECT: (False, True), S.WAIT_RETURNS: (True, True), S.R_OPEN: (False, True),
         S.I_OPEN: (True, False)}


def test_the_table_is_complete_without_fallback():
    assert len(TRANSITIONS) == len(State) * len(Event) == 176
    for (state, event), (actions, after) in TRANSITIONS.items():
        assert actions and all(isinstance(a, Act) for a in actions), (state, event)
        assert isinstance(after, State)
        assert transition(state, event) == (actions, after)


def test_rfc_rows():
    assert transition(S.CLOSED, E.R_CONN_CER) == ((A.R_ACCEPT, A.PROCESS_CER, A.R_SND_CEA), S.R_OPEN)
    assert transition(S.WAIT_RETURNS, E.WIN_ELECTION) == ((A.I_DISC, A.R_SND_CEA), S.R_OPEN)
    assert transition(S.I_OPEN, E.STOP) == ((A.SND_DPR,), S.CLOSING)
    assert RFC_ROWS == 43


@pytest.mark.parametrize("event", [E.I_RCV_DWA, E.R_RCV_DWA, E.I_RCV_MESSAGE, E.R_RCV_MESSAGE, E.I_RCV_DPR,
                                   E.R_RCV_DPR, E.I_RCV_DWR, E.R_RCV_DWR])
def test_closing_keeps_the_connection(event):
    # the fallback used to answer these with I-Disc/R-Disc: a DWA, an answer to our request or the peer's own
    # DPR cut the connection while we waited for the DPA (issue 12)
    actions, after = transition(S.CLOSING, event)
    assert after is S.CLOSING
    assert not {A.I_DISC, A.R_DISC, A.ERROR, A.CLEANUP} & set(actions)
    if event in (E.I_RCV_DPR, E.R_RCV_DPR):
        assert actions == (A.SND_DPA,)  # DPRs crossing: answer theirs, wait for the DPA to ours (§5.4)


def test_machine_fires_win_election_as_a_state_rule():
    m = PeerMachine("b.test", "a.test", TIMED, state=S.WAIT_I_CEA)
    steps = m.handle(E.R_CONN_CER, 100.0)
    assert [s.event for s in steps] == [E.R_CONN_CER, E.WIN_ELECTION]
    assert m.state is S.R_OPEN and m.deadline is None
    lost = PeerMachine("a.test", "b.test", TIMED, state=S.WAIT_I_CEA)
    assert [s.event for s in lost.handle(E.R_CONN_CER, 100.0)] == [E.R_CONN_CER]
    assert lost.state is S.WAIT_RETURNS and lost.deadline == 110.0


def test_election_compares_octets():
    assert elect("b.example", "a.example")
    assert not elect("a.example", "b.example")


class PeerTableMachine(RuleBasedStateMachine):
    """Drives one machine with any event in any order; tracks the connections its actions hold and checks
    the table's invariants after every event."""

    def __init__(self) -> None:
        super().__init__()
        self.now = 0.0
        self.m = PeerMachine("m.test", "p.test", TIMED)
        self.i = self.r = False  # the connections held, as the actions say
        self.closing_on = ""

    @rule(event=st.sampled_from(list(Event)), local=st.sampled_from(["a.test", "z.test"]),
          dt=st.floats(0, 20))
    def fire(self, event: Event, local: str, dt: float) -> None:
        self.now += dt
        self.m.local_host = local
        before = self.m.state
        if event is E.I_PEER_DISC:
            self.i = False
        if event is E.R_PEER_DISC:
            self.r = False
        steps = self.m.handle(event, self.now)
        assert steps[0].event is event and steps[0].before is before
        for step in steps:
            actions = set(step.actions)
            if step.event is E.I_RCV_CONN_ACK and A.I_SND_CER in actions:
                self.i = True
            if A.R_ACCEPT in actions:
                self.r = True
            if A.I_DISC in actions:
                self.i = False
            if A.R_DISC in actions:
                self.r = False
            if actions & {A.CLEANUP, A.ERROR} or step.after is S.CLOSED:
                self.i = self.r = False
            # sends are accepted in the open states only
            assert (A.SND_MESSAGE in actions) == (step.event is E.SEND_MESSAGE and step.before in OPEN_STATES)
            assert (A.REFUSE_SEND in actions) == (step.event is E.SEND_MESSAGE and step.before not in OPEN_STATES)
            # an open state is entered only through a capabilities exchange
            if step.after in OPEN_STATES and step.before not in OPEN_STATES:
                assert A.R_SND_CEA in actions or step.event is E.I_RCV_CEA, step
            # Closing is entered by our DPR only, and left only by the DPA, a loss or its timer
            if step.after is S.CLOSING and step.before is not S.CLOSING:
                assert step.actions == (A.SND_DPR,) and step.event is E.STOP
            if step.before is S.CLOSING and step.after is not S.CLOSING:
                assert step.event in (E.I_RCV_DPA, E.R_RCV_DPA, E.I_PEER_DISC, E.R_PEER_DISC, E.TIMEOUT)
            # applications' messages are processed only when open or closing
            if A.PROCESS in actions:
                assert step.before in OPEN_STATES | {S.CLOSING}
        if self.m.state is S.CLOSING and before is not S.CLOSING:
            self.closing_on = "i" if before is S.I_OPEN else "r"

    @invariant()
    def holds_the_connections_its_state_says(self) -> None:
        state = self.m.state
        if state is S.CLOSING:
            assert (self.i, self.r) == ((True, False) if self.closing_on == "i" else (False, True))
        else:
            assert (self.i, self.r) == HOLDS[state], (state, self.i, self.r)

    @invariant()
    def timer_only_in_timed_states(self) -> None:
        assert (self.m.deadline is not None) == (self.m.state in TIMED_STATES)

    @invariant()
    def never_rests_in_a_won_election(self) -> None:
        assert not (self.m.state is S.WAIT_RETURNS and self.m.won)


PeerTableMachine.TestCase.settings = settings(max_examples=300, stateful_step_count=60, deadline=None)
TestPeerTable = PeerTableMachine.TestCase
