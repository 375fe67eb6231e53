"""The RFC 6733 §5.6 table: every (state, event) pair has a defined outcome."""

import pytest

from ocs.diameter.peer import TRANSITIONS, Act, Event, State, elect, transition


@pytest.mark.parametrize("state", list(State))
@pytest.mark.parametrize("event", list(Event))
def test_every_pair_is_defined(state, event):
    if event is Event.WIN_ELECTION and state is not State.WAIT_RETURNS:
        with pytest.raises(AssertionError):  # our own bug, never the peer's doing
            transition(state, event)
        return
    actions, after = transition(state, event)
    assert actions and all(isinstance(a, Act) for a in actions)
    assert isinstance(after, State)


def test_rfc_rows():
    assert transition(State.CLOSED, Event.R_CONN_CER) == (
        (Act.R_ACCEPT, Act.PROCESS_CER, Act.R_SND_CEA), State.R_OPEN)
    assert transition(State.WAIT_RETURNS, Event.WIN_ELECTION) == ((Act.I_DISC, Act.R_SND_CEA), State.R_OPEN)
    assert transition(State.I_OPEN, Event.STOP) == ((Act.SND_DPR,), State.CLOSING)
    assert len(TRANSITIONS) == 43  # the rows of RFC 6733 §5.6


def test_election_compares_octets():
    assert elect("b.example", "a.example")
    assert not elect("a.example", "b.example")
