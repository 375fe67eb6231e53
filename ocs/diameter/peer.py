"""The peer state machine of RFC 6733 §5.6, as a table.

Theory of operation
-------------------
One `PeerMachine` exists per configured peer. It may own two transport connections at once: the one we opened
("I", initiator) and the one the peer opened ("R", responder); the election of §5.6.4 decides which survives.
The machine never touches sockets or clocks: the node feeds it events (with `now`) and it answers with a list of
effects (`PeerAction` values) for the node to carry out, plus the deadline of the state it is in.

`TRANSITIONS` is the table of §5.6 with the RFC's names. Pairs the RFC does not list are completed by
`FALLBACK`, one explicit rule per event, so that every (state, event) pair has a defined outcome; a test walks
them all. The liveness of an open connection is the watchdog's job (`ocs.diameter.watchdog`).
"""

from __future__ import annotations

import enum


class State(enum.Enum):
    CLOSED = "Closed"
    WAIT_CONN_ACK = "Wait-Conn-Ack"
    WAIT_I_CEA = "Wait-I-CEA"
    WAIT_CONN_ACK_ELECT = "Wait-Conn-Ack/Elect"
    WAIT_RETURNS = "Wait-Returns"
    R_OPEN = "R-Open"
    I_OPEN = "I-Open"
    CLOSING = "Closing"


class Event(enum.Enum):
    START = "Start"                    # the node wants this peer up (outbound peers only)
    R_CONN_CER = "R-Conn-CER"          # an inbound connection delivered an acceptable CER from this peer
    I_RCV_CONN_ACK = "I-Rcv-Conn-Ack"  # our outbound connection is up
    I_RCV_CONN_NACK = "I-Rcv-Conn-Nack"
    TIMEOUT = "Timeout"                # the state's deadline passed
    I_RCV_CEA = "I-Rcv-CEA"            # a successful CEA on our connection
    I_RCV_NON_CEA = "I-Rcv-Non-CEA"    # anything else, or a failed CEA, while waiting for the CEA
    I_PEER_DISC = "I-Peer-Disc"
    R_PEER_DISC = "R-Peer-Disc"
    WIN_ELECTION = "Win-Election"
    SEND_MESSAGE = "Send-Message"
    I_RCV_MESSAGE = "I-Rcv-Message"
    R_RCV_MESSAGE = "R-Rcv-Message"
    I_RCV_DWR = "I-Rcv-DWR"
    R_RCV_DWR = "R-Rcv-DWR"
    I_RCV_DWA = "I-Rcv-DWA"
    R_RCV_DWA = "R-Rcv-DWA"
    STOP = "Stop"
    I_RCV_DPR = "I-Rcv-DPR"
    R_RCV_DPR = "R-Rcv-DPR"
    I_RCV_DPA = "I-Rcv-DPA"
    R_RCV_DPA = "R-Rcv-DPA"


class Act(enum.Enum):
    """The actions of RFC 6733 §5.6 (I-/R- tell which connection they apply to)."""

    I_SND_CONN_REQ = "I-Snd-Conn-Req"
    R_ACCEPT = "R-Accept"
    PROCESS_CER = "Process-CER"
    R_SND_CEA = "R-Snd-CEA"
    I_SND_CER = "I-Snd-CER"
    CLEANUP = "Cleanup"
    ERROR = "Error"
    PROCESS_CEA = "Process-CEA"
    ELECT = "Elect"
    I_DISC = "I-Disc"
    R_DISC = "R-Disc"
    R_REJECT = "R-Reject"
    SND_MESSAGE = "Snd-Message"
    PROCESS = "Process"
    PROCESS_DWR = "Process-DWR"
    SND_DWA = "Snd-DWA"
    PROCESS_DWA = "Process-DWA"
    SND_DPR = "Snd-DPR"
    SND_DPA = "Snd-DPA"
    REFUSE_SEND = "Refuse-Send"        # ours: a local send while not open fails back to the caller
    IGNORE = "Ignore"                  # ours: an event that needs nothing in this state (listed explicitly)


S, E, A = State, Event, Act

# RFC 6733 §5.6: (state, event) -> (actions, next state)
TRANSITIONS: dict[tuple[State, Event], tuple[tuple[Act, ...], State]] = {
    (S.CLOSED, E.START): ((A.I_SND_CONN_REQ,), S.WAIT_CONN_ACK),
    (S.CLOSED, E.R_CONN_CER): ((A.R_ACCEPT, A.PROCESS_CER, A.R_SND_CEA), S.R_OPEN),

    (S.WAIT_CONN_ACK, E.I_RCV_CONN_ACK): ((A.I_SND_CER,), S.WAIT_I_CEA),
    (S.WAIT_CONN_ACK, E.I_RCV_CONN_NACK): ((A.CLEANUP,), S.CLOSED),
    (S.WAIT_CONN_ACK, E.R_CONN_CER): ((A.R_ACCEPT, A.PROCESS_CER), S.WAIT_CONN_ACK_ELECT),
    (S.WAIT_CONN_ACK, E.TIMEOUT): ((A.ERROR,), S.CLOSED),

    (S.WAIT_I_CEA, E.I_RCV_CEA): ((A.PROCESS_CEA,), S.I_OPEN),
    (S.WAIT_I_CEA, E.R_CONN_CER): ((A.R_ACCEPT, A.PROCESS_CER, A.ELECT), S.WAIT_RETURNS),
    (S.WAIT_I_CEA, E.I_PEER_DISC): ((A.I_DISC,), S.CLOSED),
    (S.WAIT_I_CEA, E.I_RCV_NON_CEA): ((A.ERROR,), S.CLOSED),
    (S.WAIT_I_CEA, E.TIMEOUT): ((A.ERROR,), S.CLOSED),

    (S.WAIT_CONN_ACK_ELECT, E.I_RCV_CONN_ACK): ((A.I_SND_CER, A.ELECT), S.WAIT_RETURNS),
    (S.WAIT_CONN_ACK_ELECT, E.I_RCV_CONN_NACK): ((A.R_SND_CEA,), S.R_OPEN),
    (S.WAIT_CONN_ACK_ELECT, E.R_PEER_DISC): ((A.R_DISC,), S.WAIT_CONN_ACK),
    (S.WAIT_CONN_ACK_ELECT, E.R_CONN_CER): ((A.R_REJECT,), S.WAIT_CONN_ACK_ELECT),
    (S.WAIT_CONN_ACK_ELECT, E.TIMEOUT): ((A.ERROR,), S.CLOSED),

    (S.WAIT_RETURNS, E.WIN_ELECTION): ((A.I_DISC, A.R_SND_CEA), S.R_OPEN),
    (S.WAIT_RETURNS, E.I_PEER_DISC): ((A.I_DISC, A.R_SND_CEA), S.R_OPEN),
    (S.WAIT_RETURNS, E.I_RCV_CEA): ((A.R_DISC,), S.I_OPEN),
    (S.WAIT_RETURNS, E.R_PEER_DISC): ((A.R_DISC,), S.WAIT_I_CEA),
    (S.WAIT_RETURNS, E.R_CONN_CER): ((A.R_REJECT,), S.WAIT_RETURNS),
    (S.WAIT_RETURNS, E.TIMEOUT): ((A.ERROR,), S.CLOSED),

    (S.R_OPEN, E.SEND_MESSAGE): ((A.SND_MESSAGE,), S.R_OPEN),
    (S.R_OPEN, E.R_RCV_MESSAGE): ((A.PROCESS,), S.R_OPEN),
    (S.R_OPEN, E.R_RCV_DWR): ((A.PROCESS_DWR, A.SND_DWA), S.R_OPEN),
    (S.R_OPEN, E.R_RCV_DWA): ((A.PROCESS_DWA,), S.R_OPEN),
    (S.R_OPEN, E.R_CONN_CER): ((A.R_REJECT,), S.R_OPEN),
    (S.R_OPEN, E.STOP): ((A.SND_DPR,), S.CLOSING),
    (S.R_OPEN, E.R_RCV_DPR): ((A.SND_DPA, A.R_DISC), S.CLOSED),
    (S.R_OPEN, E.R_PEER_DISC): ((A.R_DISC,), S.CLOSED),

    (S.I_OPEN, E.SEND_MESSAGE): ((A.SND_MESSAGE,), S.I_OPEN),
    (S.I_OPEN, E.I_RCV_MESSAGE): ((A.PROCESS,), S.I_OPEN),
    (S.I_OPEN, E.I_RCV_DWR): ((A.PROCESS_DWR, A.SND_DWA), S.I_OPEN),
    (S.I_OPEN, E.I_RCV_DWA): ((A.PROCESS_DWA,), S.I_OPEN),
    (S.I_OPEN, E.R_CONN_CER): ((A.R_REJECT,), S.I_OPEN),
    (S.I_OPEN, E.STOP): ((A.SND_DPR,), S.CLOSING),
    (S.I_OPEN, E.I_RCV_DPR): ((A.SND_DPA, A.I_DISC), S.CLOSED),
    (S.I_OPEN, E.I_PEER_DISC): ((A.I_DISC,), S.CLOSED),

    (S.CLOSING, E.I_RCV_DPA): ((A.I_DISC,), S.CLOSED),
    (S.CLOSING, E.R_RCV_DPA): ((A.R_DISC,), S.CLOSED),
    (S.CLOSING, E.TIMEOUT): ((A.ERROR,), S.CLOSED),
    (S.CLOSING, E.I_PEER_DISC): ((A.I_DISC,), S.CLOSED),
    (S.CLOSING, E.R_PEER_DISC): ((A.R_DISC,), S.CLOSED),
}

_OPEN = (S.R_OPEN, S.I_OPEN)


def _fallback(state: State, event: Event) -> tuple[tuple[Act, ...], State]:
    """Every pair the RFC table leaves out, one rule per event, stated explicitly."""
    if event is E.START:  # already started, or going down: nothing to do
        return (A.IGNORE,), state
    if event is E.R_CONN_CER:  # a further inbound CER while we are busy: refuse that connection (§5.6.1)
        return (A.R_REJECT,), state
    if event in (E.I_RCV_CONN_ACK, E.I_RCV_CONN_NACK):  # a connect we gave up on: the node drops it
        return (A.IGNORE,), state
    if event is E.TIMEOUT:  # open and closed states have no state timer; liveness is the watchdog's
        return (A.IGNORE,), state
    if event is E.SEND_MESSAGE:
        return (A.REFUSE_SEND,), state
    if event is E.STOP:
        if state is S.CLOSED:
            return (A.IGNORE,), state
        if state is S.CLOSING:
            return (A.IGNORE,), state
        return (A.CLEANUP,), S.CLOSED  # not yet open: drop the connections, no DPR to send (§5.4)
    if event is E.WIN_ELECTION:
        raise AssertionError(f"Win-Election outside Wait-Returns ({state.value})")  # our bug, not the peer's
    if event in (E.I_PEER_DISC, E.I_RCV_DPA, E.I_RCV_CEA, E.I_RCV_NON_CEA, E.I_RCV_MESSAGE, E.I_RCV_DWR,
                 E.I_RCV_DWA, E.I_RCV_DPR):
        # A message or a loss on our connection that this state does not expect: a stray answer in an open
        # state is only logged; anything else ends that connection (RFC 6733 §5.6 "Error").
        if state in _OPEN and event in (E.I_RCV_DWA, E.I_RCV_DPA, E.I_RCV_CEA):
            return (A.IGNORE,), state
        return (A.I_DISC,), (S.CLOSED if state is S.I_OPEN or state is S.WAIT_I_CEA else state)
    # the same on the responder connection
    if state in _OPEN and event in (E.R_RCV_DWA, E.R_RCV_DPA):
        return (A.IGNORE,), state
    return (A.R_DISC,), (S.CLOSED if state is S.R_OPEN else state)


def transition(state: State, event: Event) -> tuple[tuple[Act, ...], State]:
    found = TRANSITIONS.get((state, event))
    return found if found is not None else _fallback(state, event)


def elect(local_origin_host: str, peer_origin_host: str) -> bool:
    """RFC 6733 §5.6.4: we win when our Origin-Host, compared as octet strings, is the higher."""
    return local_origin_host.encode() > peer_origin_host.encode()
