"""The peer state machine of RFC 6733 §5.6, as one complete table.

Theory of operation
-------------------
One `PeerMachine` exists per configured peer and owns that peer's state: the node asks it (`machine.state`),
it keeps no copy. A machine may hold two transport connections at once: the one we opened ("I", initiator) and
the one the peer opened ("R", responder); the election of §5.6.4 decides which survives. The machine never
touches sockets or clocks: the node feeds it events with `now` (`handle`) and gets back the `Step`s taken, each
with the actions (`Act`) the node carries out in order, and the machine's `deadline` for timed states.

`TRANSITIONS` holds every (state, event) pair, 8 x 22 = 176 rows, written out: the 43 rows of RFC 6733 §5.6
with the RFC's names, and the pairs the RFC leaves out, each with the outcome it needs here. There is no
fallback: a pair that is not in the table is a KeyError (our bug). Conventions for the rows the RFC omits:

- a message or a loss on a connection this state does not hold cannot happen (the node maps events by the
  connection they came on); those rows close that connection (`I-Disc` / `R-Disc`) and keep the state;
- a connection coming up that this state did not ask for is closed (`I-Reject`), one failing is ignored;
- `Send-Message` outside the open states is refused back to the caller (`Refuse-Send`);
- a `Timeout` in a state without a timer is a stale timer and ignored;
- in Closing (our DPR sent) the connection stays up for DWR/DWA, for answers to our requests and for the
  peer's own DPR (DPRs crossing); only the DPA, a loss or the timer end it.

Win-Election is not an input from outside: it is a state rule (h11's state-triggered transitions) fired by
`handle` when the machine is in Wait-Returns and the election it ran was won. Liveness of an open connection is
the watchdog's job (`ocs.diameter.watchdog`).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import NamedTuple


class State(enum.Enum):
    CLOSED = "Closed"
    WAIT_CONN_ACK = "Wait-Conn-Ack"
    WAIT_I_CEA = "Wait-I-CEA"
    WAIT_CONN_ACK_ELECT = "Wait-Conn-Ack/Elect"
    WAIT_RETURNS = "Wait-Returns"
    R_OPEN = "R-Open"
    I_OPEN = "I-Open"
    CLOSING = "Closing"

    # members are singletons compared by identity: hash them by identity in C, not by Enum.__hash__ in Python
    # (the transition table is looked up with a (State, Event) key per message received, issue 15)
    __hash__ = object.__hash__


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

    __hash__ = object.__hash__  # as State's


class Act(enum.Enum):
    """The actions of RFC 6733 §5.6 (I-/R- tell which connection they apply to), and three of ours."""

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
    I_REJECT = "I-Reject"              # ours: close an outbound connection this state did not ask for
    REFUSE_SEND = "Refuse-Send"        # ours: a local send while not open fails back to the caller
    IGNORE = "Ignore"                  # ours: an event that needs nothing in this state (listed explicitly)


S, E, A = State, Event, Act
Row = tuple[tuple[Act, ...], State]

OPEN_STATES = frozenset({S.R_OPEN, S.I_OPEN})
# the messages of each connection, and what each state that holds no such connection does with them
_I_MESSAGES = (E.I_RCV_CEA, E.I_RCV_NON_CEA, E.I_RCV_MESSAGE, E.I_RCV_DWR, E.I_RCV_DWA, E.I_RCV_DPR, E.I_RCV_DPA)
_R_MESSAGES = (E.R_RCV_MESSAGE, E.R_RCV_DWR, E.R_RCV_DWA, E.R_RCV_DPR, E.R_RCV_DPA)

# RFC 6733 §5.6: (state, event) -> (actions, next state). Rows marked "RFC" are the RFC's own.
TRANSITIONS: dict[tuple[State, Event], Row] = {
    # --- Closed: no connection ---------------------------------------------------------------------------
    (S.CLOSED, E.START): ((A.I_SND_CONN_REQ,), S.WAIT_CONN_ACK),                       # RFC
    (S.CLOSED, E.R_CONN_CER): ((A.R_ACCEPT, A.PROCESS_CER, A.R_SND_CEA), S.R_OPEN),     # RFC
    (S.CLOSED, E.I_RCV_CONN_ACK): ((A.I_REJECT,), S.CLOSED),       # a connect we gave up on came up late
    (S.CLOSED, E.I_RCV_CONN_NACK): ((A.IGNORE,), S.CLOSED),        # ... or failed late
    (S.CLOSED, E.TIMEOUT): ((A.IGNORE,), S.CLOSED),
    (S.CLOSED, E.I_RCV_CEA): ((A.I_DISC,), S.CLOSED),
    (S.CLOSED, E.I_RCV_NON_CEA): ((A.I_DISC,), S.CLOSED),
    (S.CLOSED, E.I_PEER_DISC): ((A.IGNORE,), S.CLOSED),
    (S.CLOSED, E.R_PEER_DISC): ((A.IGNORE,), S.CLOSED),
    (S.CLOSED, E.WIN_ELECTION): ((A.IGNORE,), S.CLOSED),
    (S.CLOSED, E.SEND_MESSAGE): ((A.REFUSE_SEND,), S.CLOSED),
    (S.CLOSED, E.I_RCV_MESSAGE): ((A.I_DISC,), S.CLOSED),
    (S.CLOSED, E.R_RCV_MESSAGE): ((A.R_DISC,), S.CLOSED),
    (S.CLOSED, E.I_RCV_DWR): ((A.I_DISC,), S.CLOSED),
    (S.CLOSED, E.R_RCV_DWR): ((A.R_DISC,), S.CLOSED),
    (S.CLOSED, E.I_RCV_DWA): ((A.I_DISC,), S.CLOSED),
    (S.CLOSED, E.R_RCV_DWA): ((A.R_DISC,), S.CLOSED),
    (S.CLOSED, E.STOP): ((A.IGNORE,), S.CLOSED),
    (S.CLOSED, E.I_RCV_DPR): ((A.I_DISC,), S.CLOSED),
    (S.CLOSED, E.R_RCV_DPR): ((A.R_DISC,), S.CLOSED),
    (S.CLOSED, E.I_RCV_DPA): ((A.I_DISC,), S.CLOSED),
    (S.CLOSED, E.R_RCV_DPA): ((A.R_DISC,), S.CLOSED),

    # --- Wait-Conn-Ack: our connect is under way, no connection yet ---------------------------------------------
    (S.WAIT_CONN_ACK, E.START): ((A.IGNORE,), S.WAIT_CONN_ACK),
    (S.WAIT_CONN_ACK, E.R_CONN_CER): ((A.R_ACCEPT, A.PROCESS_CER), S.WAIT_CONN_ACK_ELECT),   # RFC
    (S.WAIT_CONN_ACK, E.I_RCV_CONN_ACK): ((A.I_SND_CER,), S.WAIT_I_CEA),                     # RFC
    (S.WAIT_CONN_ACK, E.I_RCV_CONN_NACK): ((A.CLEANUP,), S.CLOSED),                          # RFC
    (S.WAIT_CONN_ACK, E.TIMEOUT): ((A.ERROR,), S.CLOSED),                                    # RFC
    (S.WAIT_CONN_ACK, E.I_RCV_CEA): ((A.I_DISC,), S.WAIT_CONN_ACK),
    (S.WAIT_CONN_ACK, E.I_RCV_NON_CEA): ((A.I_DISC,), S.WAIT_CONN_ACK),
    (S.WAIT_CONN_ACK, E.I_PEER_DISC): ((A.IGNORE,), S.WAIT_CONN_ACK),
    (S.WAIT_CONN_ACK, E.R_PEER_DISC): ((A.IGNORE,), S.WAIT_CONN_ACK),
    (S.WAIT_CONN_ACK, E.WIN_ELECTION): ((A.IGNORE,), S.WAIT_CONN_ACK),
    (S.WAIT_CONN_ACK, E.SEND_MESSAGE): ((A.REFUSE_SEND,), S.WAIT_CONN_ACK),
    (S.WAIT_CONN_ACK, E.I_RCV_MESSAGE): ((A.I_DISC,), S.WAIT_CONN_ACK),
    (S.WAIT_CONN_ACK, E.R_RCV_MESSAGE): ((A.R_DISC,), S.WAIT_CONN_ACK),
    (S.WAIT_CONN_ACK, E.I_RCV_DWR): ((A.I_DISC,), S.WAIT_CONN_ACK),
    (S.WAIT_CONN_ACK, E.R_RCV_DWR): ((A.R_DISC,), S.WAIT_CONN_ACK),
    (S.WAIT_CONN_ACK, E.I_RCV_DWA): ((A.I_DISC,), S.WAIT_CONN_ACK),
    (S.WAIT_CONN_ACK, E.R_RCV_DWA): ((A.R_DISC,), S.WAIT_CONN_ACK),
    (S.WAIT_CONN_ACK, E.STOP): ((A.CLEANUP,), S.CLOSED),      # not open: drop the connect, no DPR (§5.4)
    (S.WAIT_CONN_ACK, E.I_RCV_DPR): ((A.I_DISC,), S.WAIT_CONN_ACK),
    (S.WAIT_CONN_ACK, E.R_RCV_DPR): ((A.R_DISC,), S.WAIT_CONN_ACK),
    (S.WAIT_CONN_ACK, E.I_RCV_DPA): ((A.I_DISC,), S.WAIT_CONN_ACK),
    (S.WAIT_CONN_ACK, E.R_RCV_DPA): ((A.R_DISC,), S.WAIT_CONN_ACK),

    # --- Wait-I-CEA: our connection is up, our CER sent ------------------------------------------------------
    (S.WAIT_I_CEA, E.START): ((A.IGNORE,), S.WAIT_I_CEA),
    (S.WAIT_I_CEA, E.R_CONN_CER): ((A.R_ACCEPT, A.PROCESS_CER, A.ELECT), S.WAIT_RETURNS),    # RFC
    (S.WAIT_I_CEA, E.I_RCV_CONN_ACK): ((A.I_REJECT,), S.WAIT_I_CEA),
    (S.WAIT_I_CEA, E.I_RCV_CONN_NACK): ((A.IGNORE,), S.WAIT_I_CEA),
    (S.WAIT_I_CEA, E.TIMEOUT): ((A.ERROR,), S.CLOSED),                                       # RFC
    (S.WAIT_I_CEA, E.I_RCV_CEA): ((A.PROCESS_CEA,), S.I_OPEN),                               # RFC
    (S.WAIT_I_CEA, E.I_RCV_NON_CEA): ((A.ERROR,), S.CLOSED),                                 # RFC
    (S.WAIT_I_CEA, E.I_PEER_DISC): ((A.I_DISC,), S.CLOSED),                                  # RFC
    (S.WAIT_I_CEA, E.R_PEER_DISC): ((A.IGNORE,), S.WAIT_I_CEA),
    (S.WAIT_I_CEA, E.WIN_ELECTION): ((A.IGNORE,), S.WAIT_I_CEA),
    (S.WAIT_I_CEA, E.SEND_MESSAGE): ((A.REFUSE_SEND,), S.WAIT_I_CEA),
    (S.WAIT_I_CEA, E.I_RCV_MESSAGE): ((A.ERROR,), S.CLOSED),   # anything but a CEA first: as Non-CEA
    (S.WAIT_I_CEA, E.R_RCV_MESSAGE): ((A.R_DISC,), S.WAIT_I_CEA),
    (S.WAIT_I_CEA, E.I_RCV_DWR): ((A.ERROR,), S.CLOSED),
    (S.WAIT_I_CEA, E.R_RCV_DWR): ((A.R_DISC,), S.WAIT_I_CEA),
    (S.WAIT_I_CEA, E.I_RCV_DWA): ((A.ERROR,), S.CLOSED),
    (S.WAIT_I_CEA, E.R_RCV_DWA): ((A.R_DISC,), S.WAIT_I_CEA),
    (S.WAIT_I_CEA, E.STOP): ((A.CLEANUP,), S.CLOSED),
    (S.WAIT_I_CEA, E.I_RCV_DPR): ((A.ERROR,), S.CLOSED),
    (S.WAIT_I_CEA, E.R_RCV_DPR): ((A.R_DISC,), S.WAIT_I_CEA),
    (S.WAIT_I_CEA, E.I_RCV_DPA): ((A.ERROR,), S.CLOSED),
    (S.WAIT_I_CEA, E.R_RCV_DPA): ((A.R_DISC,), S.WAIT_I_CEA),

    # --- Wait-Conn-Ack/Elect: the peer's connection accepted (no CEA yet), ours still connecting --------------
    (S.WAIT_CONN_ACK_ELECT, E.START): ((A.IGNORE,), S.WAIT_CONN_ACK_ELECT),
    (S.WAIT_CONN_ACK_ELECT, E.R_CONN_CER): ((A.R_REJECT,), S.WAIT_CONN_ACK_ELECT),          # RFC
    (S.WAIT_CONN_ACK_ELECT, E.I_RCV_CONN_ACK): ((A.I_SND_CER, A.ELECT), S.WAIT_RETURNS),    # RFC
    (S.WAIT_CONN_ACK_ELECT, E.I_RCV_CONN_NACK): ((A.R_SND_CEA,), S.R_OPEN),                # RFC
    (S.WAIT_CONN_ACK_ELECT, E.TIMEOUT): ((A.ERROR,), S.CLOSED),                            # RFC
    (S.WAIT_CONN_ACK_ELECT, E.I_RCV_CEA): ((A.I_DISC,), S.WAIT_CONN_ACK_ELECT),
    (S.WAIT_CONN_ACK_ELECT, E.I_RCV_NON_CEA): ((A.I_DISC,), S.WAIT_CONN_ACK_ELECT),
    (S.WAIT_CONN_ACK_ELECT, E.I_PEER_DISC): ((A.IGNORE,), S.WAIT_CONN_ACK_ELECT),
    (S.WAIT_CONN_ACK_ELECT, E.R_PEER_DISC): ((A.R_DISC,), S.WAIT_CONN_ACK),                 # RFC
    (S.WAIT_CONN_ACK_ELECT, E.WIN_ELECTION): ((A.IGNORE,), S.WAIT_CONN_ACK_ELECT),
    (S.WAIT_CONN_ACK_ELECT, E.SEND_MESSAGE): ((A.REFUSE_SEND,), S.WAIT_CONN_ACK_ELECT),
    (S.WAIT_CONN_ACK_ELECT, E.I_RCV_MESSAGE): ((A.I_DISC,), S.WAIT_CONN_ACK_ELECT),
    # the peer may send nothing before our CEA (RFC 6733 §5.3): its connection is dropped
    (S.WAIT_CONN_ACK_ELECT, E.R_RCV_MESSAGE): ((A.R_DISC,), S.WAIT_CONN_ACK),
    (S.WAIT_CONN_ACK_ELECT, E.I_RCV_DWR): ((A.I_DISC,), S.WAIT_CONN_ACK_ELECT),
    (S.WAIT_CONN_ACK_ELECT, E.R_RCV_DWR): ((A.R_DISC,), S.WAIT_CONN_ACK),
    (S.WAIT_CONN_ACK_ELECT, E.I_RCV_DWA): ((A.I_DISC,), S.WAIT_CONN_ACK_ELECT),
    (S.WAIT_CONN_ACK_ELECT, E.R_RCV_DWA): ((A.R_DISC,), S.WAIT_CONN_ACK),
    (S.WAIT_CONN_ACK_ELECT, E.STOP): ((A.CLEANUP,), S.CLOSED),
    (S.WAIT_CONN_ACK_ELECT, E.I_RCV_DPR): ((A.I_DISC,), S.WAIT_CONN_ACK_ELECT),
    (S.WAIT_CONN_ACK_ELECT, E.R_RCV_DPR): ((A.R_DISC,), S.WAIT_CONN_ACK),
    (S.WAIT_CONN_ACK_ELECT, E.I_RCV_DPA): ((A.I_DISC,), S.WAIT_CONN_ACK_ELECT),
    (S.WAIT_CONN_ACK_ELECT, E.R_RCV_DPA): ((A.R_DISC,), S.WAIT_CONN_ACK),

    # --- Wait-Returns: both connections, the election decides -----------------------------------------------
    (S.WAIT_RETURNS, E.START): ((A.IGNORE,), S.WAIT_RETURNS),
    (S.WAIT_RETURNS, E.R_CONN_CER): ((A.R_REJECT,), S.WAIT_RETURNS),                       # RFC
    (S.WAIT_RETURNS, E.I_RCV_CONN_ACK): ((A.I_REJECT,), S.WAIT_RETURNS),
    (S.WAIT_RETURNS, E.I_RCV_CONN_NACK): ((A.IGNORE,), S.WAIT_RETURNS),
    (S.WAIT_RETURNS, E.TIMEOUT): ((A.ERROR,), S.CLOSED),                                   # RFC
    (S.WAIT_RETURNS, E.I_RCV_CEA): ((A.R_DISC,), S.I_OPEN),                                # RFC
    (S.WAIT_RETURNS, E.I_RCV_NON_CEA): ((A.I_DISC, A.R_SND_CEA), S.R_OPEN),  # ours failed: keep theirs
    (S.WAIT_RETURNS, E.I_PEER_DISC): ((A.I_DISC, A.R_SND_CEA), S.R_OPEN),                  # RFC
    (S.WAIT_RETURNS, E.R_PEER_DISC): ((A.R_DISC,), S.WAIT_I_CEA),                          # RFC
    (S.WAIT_RETURNS, E.WIN_ELECTION): ((A.I_DISC, A.R_SND_CEA), S.R_OPEN),                 # RFC
    (S.WAIT_RETURNS, E.SEND_MESSAGE): ((A.REFUSE_SEND,), S.WAIT_RETURNS),
    (S.WAIT_RETURNS, E.I_RCV_MESSAGE): ((A.I_DISC, A.R_SND_CEA), S.R_OPEN),  # as Non-CEA
    (S.WAIT_RETURNS, E.R_RCV_MESSAGE): ((A.R_DISC,), S.WAIT_I_CEA),          # nothing before our CEA
    (S.WAIT_RETURNS, E.I_RCV_DWR): ((A.I_DISC, A.R_SND_CEA), S.R_OPEN),
    (S.WAIT_RETURNS, E.R_RCV_DWR): ((A.R_DISC,), S.WAIT_I_CEA),
    (S.WAIT_RETURNS, E.I_RCV_DWA): ((A.I_DISC, A.R_SND_CEA), S.R_OPEN),
    (S.WAIT_RETURNS, E.R_RCV_DWA): ((A.R_DISC,), S.WAIT_I_CEA),
    (S.WAIT_RETURNS, E.STOP): ((A.CLEANUP,), S.CLOSED),
    (S.WAIT_RETURNS, E.I_RCV_DPR): ((A.I_DISC, A.R_SND_CEA), S.R_OPEN),
    (S.WAIT_RETURNS, E.R_RCV_DPR): ((A.R_DISC,), S.WAIT_I_CEA),
    (S.WAIT_RETURNS, E.I_RCV_DPA): ((A.I_DISC, A.R_SND_CEA), S.R_OPEN),
    (S.WAIT_RETURNS, E.R_RCV_DPA): ((A.R_DISC,), S.WAIT_I_CEA),

    # --- R-Open: the peer's connection carries the traffic ----------------------------------------------------
    (S.R_OPEN, E.START): ((A.IGNORE,), S.R_OPEN),
    (S.R_OPEN, E.R_CONN_CER): ((A.R_REJECT,), S.R_OPEN),                                   # RFC
    (S.R_OPEN, E.I_RCV_CONN_ACK): ((A.I_REJECT,), S.R_OPEN),
    (S.R_OPEN, E.I_RCV_CONN_NACK): ((A.IGNORE,), S.R_OPEN),
    (S.R_OPEN, E.TIMEOUT): ((A.IGNORE,), S.R_OPEN),
    (S.R_OPEN, E.I_RCV_CEA): ((A.I_DISC,), S.R_OPEN),
    (S.R_OPEN, E.I_RCV_NON_CEA): ((A.I_DISC,), S.R_OPEN),
    (S.R_OPEN, E.I_PEER_DISC): ((A.IGNORE,), S.R_OPEN),
    (S.R_OPEN, E.R_PEER_DISC): ((A.R_DISC,), S.CLOSED),                                    # RFC
    (S.R_OPEN, E.WIN_ELECTION): ((A.IGNORE,), S.R_OPEN),
    (S.R_OPEN, E.SEND_MESSAGE): ((A.SND_MESSAGE,), S.R_OPEN),                              # RFC
    (S.R_OPEN, E.I_RCV_MESSAGE): ((A.I_DISC,), S.R_OPEN),
    (S.R_OPEN, E.R_RCV_MESSAGE): ((A.PROCESS,), S.R_OPEN),                                 # RFC
    (S.R_OPEN, E.I_RCV_DWR): ((A.I_DISC,), S.R_OPEN),
    (S.R_OPEN, E.R_RCV_DWR): ((A.PROCESS_DWR, A.SND_DWA), S.R_OPEN),                       # RFC
    (S.R_OPEN, E.I_RCV_DWA): ((A.I_DISC,), S.R_OPEN),
    (S.R_OPEN, E.R_RCV_DWA): ((A.PROCESS_DWA,), S.R_OPEN),                                 # RFC
    (S.R_OPEN, E.STOP): ((A.SND_DPR,), S.CLOSING),                                         # RFC
    (S.R_OPEN, E.I_RCV_DPR): ((A.I_DISC,), S.R_OPEN),
    (S.R_OPEN, E.R_RCV_DPR): ((A.SND_DPA, A.R_DISC), S.CLOSED),                            # RFC
    (S.R_OPEN, E.I_RCV_DPA): ((A.I_DISC,), S.R_OPEN),
    (S.R_OPEN, E.R_RCV_DPA): ((A.IGNORE,), S.R_OPEN),  # a DPA we did not ask for: discarded (§6.2.1)

    # --- I-Open: our connection carries the traffic -----------------------------------------------------------
    (S.I_OPEN, E.START): ((A.IGNORE,), S.I_OPEN),
    (S.I_OPEN, E.R_CONN_CER): ((A.R_REJECT,), S.I_OPEN),                                   # RFC
    (S.I_OPEN, E.I_RCV_CONN_ACK): ((A.I_REJECT,), S.I_OPEN),
    (S.I_OPEN, E.I_RCV_CONN_NACK): ((A.IGNORE,), S.I_OPEN),
    (S.I_OPEN, E.TIMEOUT): ((A.IGNORE,), S.I_OPEN),
    (S.I_OPEN, E.I_RCV_CEA): ((A.IGNORE,), S.I_OPEN),  # a repeated CEA: discarded (§6.2.1)
    (S.I_OPEN, E.I_RCV_NON_CEA): ((A.IGNORE,), S.I_OPEN),
    (S.I_OPEN, E.I_PEER_DISC): ((A.I_DISC,), S.CLOSED),                                    # RFC
    (S.I_OPEN, E.R_PEER_DISC): ((A.IGNORE,), S.I_OPEN),
    (S.I_OPEN, E.WIN_ELECTION): ((A.IGNORE,), S.I_OPEN),
    (S.I_OPEN, E.SEND_MESSAGE): ((A.SND_MESSAGE,), S.I_OPEN),                              # RFC
    (S.I_OPEN, E.I_RCV_MESSAGE): ((A.PROCESS,), S.I_OPEN),                                 # RFC
    (S.I_OPEN, E.R_RCV_MESSAGE): ((A.R_DISC,), S.I_OPEN),
    (S.I_OPEN, E.I_RCV_DWR): ((A.PROCESS_DWR, A.SND_DWA), S.I_OPEN),                       # RFC
    (S.I_OPEN, E.R_RCV_DWR): ((A.R_DISC,), S.I_OPEN),
    (S.I_OPEN, E.I_RCV_DWA): ((A.PROCESS_DWA,), S.I_OPEN),                                 # RFC
    (S.I_OPEN, E.R_RCV_DWA): ((A.R_DISC,), S.I_OPEN),
    (S.I_OPEN, E.STOP): ((A.SND_DPR,), S.CLOSING),                                         # RFC
    (S.I_OPEN, E.I_RCV_DPR): ((A.SND_DPA, A.I_DISC), S.CLOSED),                            # RFC
    (S.I_OPEN, E.R_RCV_DPR): ((A.R_DISC,), S.I_OPEN),
    (S.I_OPEN, E.I_RCV_DPA): ((A.IGNORE,), S.I_OPEN),
    (S.I_OPEN, E.R_RCV_DPA): ((A.R_DISC,), S.I_OPEN),

    # --- Closing: our DPR sent on the open connection; waiting for the DPA -------------------------------------
    (S.CLOSING, E.START): ((A.IGNORE,), S.CLOSING),
    (S.CLOSING, E.R_CONN_CER): ((A.R_REJECT,), S.CLOSING),
    (S.CLOSING, E.I_RCV_CONN_ACK): ((A.I_REJECT,), S.CLOSING),
    (S.CLOSING, E.I_RCV_CONN_NACK): ((A.IGNORE,), S.CLOSING),
    (S.CLOSING, E.TIMEOUT): ((A.ERROR,), S.CLOSED),                                        # RFC
    (S.CLOSING, E.I_RCV_CEA): ((A.IGNORE,), S.CLOSING),
    (S.CLOSING, E.I_RCV_NON_CEA): ((A.IGNORE,), S.CLOSING),
    (S.CLOSING, E.I_PEER_DISC): ((A.I_DISC,), S.CLOSED),                                   # RFC
    (S.CLOSING, E.R_PEER_DISC): ((A.R_DISC,), S.CLOSED),                                   # RFC
    (S.CLOSING, E.WIN_ELECTION): ((A.IGNORE,), S.CLOSING),
    (S.CLOSING, E.SEND_MESSAGE): ((A.REFUSE_SEND,), S.CLOSING),  # no new requests after our DPR (§5.4)
    # answers to our requests still arrive; requests crossing our DPR are refused by the node (3004)
    (S.CLOSING, E.I_RCV_MESSAGE): ((A.PROCESS,), S.CLOSING),
    (S.CLOSING, E.R_RCV_MESSAGE): ((A.PROCESS,), S.CLOSING),
    (S.CLOSING, E.I_RCV_DWR): ((A.PROCESS_DWR, A.SND_DWA), S.CLOSING),
    (S.CLOSING, E.R_RCV_DWR): ((A.PROCESS_DWR, A.SND_DWA), S.CLOSING),
    (S.CLOSING, E.I_RCV_DWA): ((A.PROCESS_DWA,), S.CLOSING),
    (S.CLOSING, E.R_RCV_DWA): ((A.PROCESS_DWA,), S.CLOSING),
    (S.CLOSING, E.STOP): ((A.IGNORE,), S.CLOSING),
    # DPRs crossing: answer theirs and keep waiting for the DPA to ours (RFC 6733 §5.4)
    (S.CLOSING, E.I_RCV_DPR): ((A.SND_DPA,), S.CLOSING),
    (S.CLOSING, E.R_RCV_DPR): ((A.SND_DPA,), S.CLOSING),
    (S.CLOSING, E.I_RCV_DPA): ((A.I_DISC,), S.CLOSED),                                     # RFC
    (S.CLOSING, E.R_RCV_DPA): ((A.R_DISC,), S.CLOSED),                                     # RFC
}

_PROCESS = (Act.PROCESS,)
RFC_ROWS = 43  # the rows above marked RFC: the table of RFC 6733 §5.6 as printed, plus the Closing DPA rows


@dataclass(frozen=True, slots=True)
class Timers:
    """Seconds a timed state may last before its Timeout (RFC 6733 §5.6 leaves the values to us)."""

    connect: float = 10.0  # Wait-Conn-Ack, Wait-Conn-Ack/Elect: our connect
    cea: float = 10.0      # Wait-I-CEA, Wait-Returns: the peer's CEA, the election
    dpa: float = 5.0       # Closing: the DPA to our DPR

    def of(self, state: State) -> float | None:
        if state is State.WAIT_CONN_ACK or state is State.WAIT_CONN_ACK_ELECT:
            return self.connect
        if state is State.WAIT_I_CEA or state is State.WAIT_RETURNS:
            return self.cea
        return self.dpa if state is State.CLOSING else None


class Step(NamedTuple):
    """One transition taken: the node carries out `actions` in order, then reacts to entering `after`."""

    event: Event
    before: State
    actions: tuple[Act, ...]
    after: State


@dataclass(slots=True, eq=False)
class PeerMachine:
    """The state of one peer, with the deadline of its timed states (Wait-*, Closing)."""

    local_host: str
    peer_host: str
    timers: Timers = field(default_factory=Timers)
    state: State = State.CLOSED
    deadline: float | None = None  # when the state's timer fires (Timeout), None in untimed states
    won: bool = False              # side value: the result of the last Elect, read by the state rule

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def only_processes(self, event: Event) -> bool:
        """True when the row for `event` is just Process in the same state (the hot path: a request or an
        answer on an open connection), which the node may then carry out without a Step."""
        actions, after = TRANSITIONS[(self.state, event)]
        return after is self.state and actions == _PROCESS

    def handle(self, event: Event, now: float) -> list[Step]:
        """Take the row for (state, event), then the state rules to a fixed point (Win-Election)."""
        steps = [self._take(event, now)]
        # RFC 6733 §5.6.4: Win-Election happens when the election in Wait-Returns was won
        while self.state is State.WAIT_RETURNS and self.won:
            steps.append(self._take(Event.WIN_ELECTION, now))
        return steps

    def _take(self, event: Event, now: float) -> Step:
        before = self.state
        actions, after = TRANSITIONS[(before, event)]
        if Act.ELECT in actions:
            self.won = elect(self.local_host, self.peer_host)
        if after is not before:
            timer = self.timers.of(after)
            self.deadline = now + timer if timer is not None else None
            if after is not State.WAIT_RETURNS:
                self.won = False
        self.state = after
        return Step(event, before, actions, after)


def transition(state: State, event: Event) -> Row:
    """The table's row for a pair (a KeyError means the table is incomplete: our bug)."""
    return TRANSITIONS[(state, event)]


def elect(local_origin_host: str, peer_origin_host: str) -> bool:
    """RFC 6733 §5.6.4: we win when our Origin-Host, compared as octet strings, is the higher."""
    return local_origin_host.encode() > peer_origin_host.encode()
