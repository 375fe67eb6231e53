"""The Diameter node: connections and peers, the machine's actions, and the base protocol's checks on requests.

Theory of operation
-------------------
`Node` is sans-IO (the aioquic way). The transport tells it what happened — `connection_made`, `data_received`,
`connection_lost`, `connect_failed`, `on_timer` — always with `now`, and the application answers requests with
`send_answer`. After each call the transport takes `pop_effects()` (`ocs.diameter.effects`) and re-arms one
timer at `next_deadline()`, the earliest deadline of the parts: framing (`framing`), the peer table and each
peer's machine (`peers`, `peer`), the watchdog, our own requests (`correlation`) and the answers kept for
retransmissions (`duplicates`).

A new inbound connection is anonymous until its CER names a configured peer (RFC 6733 §5.3); until then its
frames are bounded by `max_cer_size`, and the connection counts against `max_pending_connections`. The peer's
`PeerMachine` owns its state; the node feeds it events (one at a time, queued) and carries out the actions.

Requests from peers pass the base protocol's checks in `ocs.diameter.requests` (identity, retransmissions,
fair in-flight share, application and command support) before an application sees them.
"""

from __future__ import annotations

import random
from collections import deque
from collections.abc import Iterable

from ocs.diameter.actions import PeerActions
from ocs.diameter.capabilities import (
    Application,
    LocalIdentity,
    accept_cer,
    cer_origin_host,
    make_cea,
    parse_capabilities,
)
from ocs.diameter.codes import (
    CMD_CAPABILITIES_EXCHANGE,
    CMD_DEVICE_WATCHDOG,
    DIAMETER_NO_COMMON_APPLICATION,
    DIAMETER_SUCCESS,
    DIAMETER_UNABLE_TO_COMPLY,
    DIAMETER_UNKNOWN_PEER,
    FLAG_REQUEST,
    RESULT_CODE,
)
from ocs.diameter.correlation import Correlation
from ocs.diameter.dictionary import Dictionary
from ocs.diameter.effects import (
    AnswerReceived,
    Close,
    Connect,
    Effect,
    NodeSettings,
    Notice,
    PeerDown,
    PeerUp,
    RequestFailed,
    RequestReceived,
    Write,
)
from ocs.diameter.errors import DiameterError, FramingError
from ocs.diameter.framing import MessageBuffer
from ocs.diameter.message import Message
from ocs.diameter.peer import OPEN_STATES, Act, Event, State, Timers, transition
from ocs.diameter.peers import Connection, PeerConfig, PeerEntry, PeerTable
from ocs.diameter.requests import Requests
from ocs.diameter.wire import header_error_answer, message_event

_UP = OPEN_STATES | {State.CLOSING}


class Node(PeerActions):
    def __init__(self, local: LocalIdentity, peers: Iterable[PeerConfig], dictionary: Dictionary,
                 handlers: Iterable[tuple[int, int]], settings: NodeSettings | None = None,
                 rng: random.Random | None = None) -> None:
        self.local = local
        self.settings = s = settings or NodeSettings()
        self.dictionary = dictionary
        self._rng = rng or random.Random()
        self._peers = PeerTable(peers, local.origin_host, Timers(s.connect_timeout, s.cea_timeout, s.dpa_timeout))
        self._conns: dict[int, Connection] = {}
        self._pending_conns = 0  # inbound connections not yet past the CER
        self._next_conn = 1
        self._effects: list[Effect] = []
        self._ids = Correlation(self._rng, s.request_timeout)
        self._stopping = False
        self._requests = Requests(local, dictionary, frozenset(handlers), s, self._effects)
        self._events: deque[tuple[PeerEntry, Event, Connection | None, Message | None]] = deque()
        self._open_peers = 0

    # --- queries --------------------------------------------------------------------------------------------
    def pop_effects(self) -> list[Effect]:
        effects = self._effects.copy()  # the list itself is shared with the parts that emit into it
        self._effects.clear()
        return effects

    def peer_state(self, origin_host: str) -> State:
        return self._peers[origin_host].state

    def is_open(self, origin_host: str) -> bool:
        """True when a configured peer is in I-Open or R-Open (requests can be sent to it)."""
        peer = self._peers.get(origin_host)
        return peer is not None and peer.machine.is_open

    def peer_entries(self) -> list[PeerEntry]:
        """The configured peers (read-only use: status reports)."""
        return list(self._peers)

    def peer_states(self) -> dict[str, State]:
        return {p.name: p.state for p in self._peers}

    @property
    def in_flight(self) -> int:
        return len(self._requests)

    @property
    def all_closed(self) -> bool:
        return all(p.state is State.CLOSED for p in self._peers) and not self._conns

    def next_deadline(self) -> float | None:
        deadlines = [c.deadline for c in self._conns.values() if c.deadline is not None]
        for p in self._peers:
            for d in (p.machine.deadline, p.reconnect_at, p.stop_at):
                if d is not None:
                    deadlines.append(d)
            if p.watchdog is not None:
                deadlines.append(p.watchdog.deadline)
        for d in (self._ids.deadline(), self._requests.deadline()):
            if d is not None:
                deadlines.append(d)
        return min(deadlines) if deadlines else None

    # --- transport events ----------------------------------------------------------------------------------
    def start(self, now: float) -> None:
        for peer in self._peers:
            if peer.config.connect is not None:
                self._run(peer, Event.START, now)

    def stop(self, now: float) -> None:
        """Graceful stop (RFC 6733 §5.4): each open peer gets its DPR once the requests it sent us are answered
        (or after `drain_timeout`), the rest is dropped, and nothing reconnects."""
        self._stopping = True
        for peer in self._peers:
            peer.reconnect_at = None
            if peer.machine.is_open and peer.in_flight:
                peer.stop_at = now + self.settings.drain_timeout
            else:
                self._run(peer, Event.STOP, now)
        for conn in list(self._conns.values()):
            if conn.peer is None:
                self._close(conn)

    def connection_made(self, now: float, peer: str | None = None) -> int:
        """A transport connection is up: inbound (peer None) or the outbound one we asked for with Connect."""
        s = self.settings
        conn = Connection(self._next_conn, peer is not None, MessageBuffer(s.max_cer_size))
        self._next_conn += 1
        self._conns[conn.id] = conn
        if peer is None:
            self._pending_conns += 1
            conn.deadline = now + s.cer_timeout
            if len(self._conns) > s.max_connections or self._pending_conns > s.max_pending_connections:
                self._effects.append(Notice("connection-limit", None, f"{len(self._conns)} connections, "
                                            f"{self._pending_conns} before CER", conn.id))
                self._close(conn)
            return conn.id
        p = self._peers[peer]
        if p.i_conn is None and Act.I_SND_CER in transition(p.state, Event.I_RCV_CONN_ACK)[0]:
            p.i_conn, conn.peer = conn, p  # a connect this state waits for (else the row rejects it)
        self._run(p, Event.I_RCV_CONN_ACK, now, conn)
        return conn.id

    def connect_failed(self, peer: str, now: float) -> None:
        self._run(self._peers[peer], Event.I_RCV_CONN_NACK, now)

    def connection_lost(self, conn_id: int, now: float) -> None:
        conn = self._conns.get(conn_id)
        if conn is not None:  # else we closed it ourselves
            self._close(conn, effect=False)
            self._lost(conn, now)

    def data_received(self, conn_id: int, data: bytes, now: float) -> None:
        conn = self._conns.get(conn_id)
        if conn is None or conn.draining:
            return
        buffer = conn.buffer
        buffer.feed(data)
        try:
            for raw in buffer:
                self._on_message(conn, raw, now)
                if conn.draining or conn.id not in self._conns:
                    return
        except FramingError as e:
            # RFC 6733 §3: a stream we cannot frame is closed; other connections are not affected.
            self._effects.append(Notice("framing-error", conn.peer.name if conn.peer else None, str(e), conn.id))
            self._close(conn)
            self._lost(conn, now)

    def on_timer(self, now: float) -> None:
        for conn in list(self._conns.values()):
            if conn.deadline is not None and conn.deadline <= now and conn.peer is None:
                self._effects.append(Notice("cer-timeout", None, "", conn.id))
                self._close(conn)
        for peer in self._peers:
            m = peer.machine
            if m.deadline is not None and m.deadline <= now:
                self._run(peer, Event.TIMEOUT, now)
            if peer.reconnect_at is not None and peer.reconnect_at <= now:
                peer.reconnect_at = None
                self._run(peer, Event.START, now)
            if peer.stop_at is not None and peer.stop_at <= now:
                peer.stop_at = None
                self._run(peer, Event.STOP, now)
            dog = peer.watchdog
            if dog is not None and dog.deadline <= now and peer.active is not None:
                self._watchdog_expired(peer, dog.expire(now), now)
        self._effects.extend(self._ids.expire(now))
        self._requests.expire(now)

    # --- application side -----------------------------------------------------------------------------------
    def send_answer(self, token: int, answer: Message | bytes, now: float) -> None:
        data = answer if isinstance(answer, bytes) else answer.encode()
        conn = self._requests.answered(token, data, now)
        peer = conn.peer
        assert peer is not None
        if conn.id in self._conns:
            self._write(conn, data)
            if conn.draining and not conn.in_flight:  # the answers are out: now the rejection (§5.6 R-Reject)
                self._close(conn)
                self._lost(conn, now)
        else:
            self._effects.append(Notice("answer-dropped", peer.name, "connection gone"))
        if peer.stop_at is not None and not peer.in_flight:  # stopping: the DPR goes after the last answer
            peer.stop_at = None
            self._run(peer, Event.STOP, now)

    def send_request(self, peer_name: str, message: Message, now: float) -> int | None:
        """Send a request we originate (RAR, ASR, ...). Returns its hop-by-hop id, or None if the peer is not
        open. The answer arrives as AnswerReceived, or RequestFailed after the request timeout."""
        peer = self._peers[peer_name]
        steps = peer.machine.handle(Event.SEND_MESSAGE, now)
        if Act.SND_MESSAGE not in steps[0].actions or peer.active is None:
            return None
        message.flags |= FLAG_REQUEST
        message.hop_by_hop = self._ids.next_hop_by_hop()
        if not message.end_to_end:
            message.end_to_end = self._ids.next_end_to_end(now)
        self._ids.sent(peer.name, message.hop_by_hop, now)
        self._write(peer.active, message.encode())
        return message.hop_by_hop

    def _on_message(self, conn: Connection, raw: bytes, now: float) -> None:
        try:
            msg = Message.decode(raw)
        except DiameterError as e:
            self._header_error(conn, raw, e)
            return
        peer = conn.peer
        if peer is None:
            if msg.command_code == CMD_CAPABILITIES_EXCHANGE and msg.is_request and not conn.initiator:
                self._on_cer(conn, msg, now)
            else:  # RFC 6733 §5.3: the first message on a connection is a CER
                self._effects.append(Notice("no-cer", None, f"command {msg.command_code}", conn.id))
                self._close(conn)
            return
        if peer.watchdog is not None and conn is peer.active:
            peer.watchdog.received(now, msg.command_code == CMD_DEVICE_WATCHDOG and not msg.is_request)
        initiator = conn is peer.i_conn
        if msg.command_code == CMD_CAPABILITIES_EXCHANGE and not msg.is_request and initiator:
            self._on_cea(peer, conn, msg, now)
            return
        event = message_event(msg, initiator)  # waiting for the CEA, the table treats any other as Non-CEA
        if event is None:  # a CEA on their connection, a CER on ours: not allowed (RFC 6733 §5.3)
            self._effects.append(Notice("unexpected-capabilities-exchange", peer.name, "", conn.id))
            self._close(conn)
            self._lost(conn, now)
            return
        if event is Event.R_CONN_CER:  # a second CER on an open connection: R-Conn-CER (RFC 6733 §5.6)
            self._effects.append(Notice("repeated-cer", peer.name, "", conn.id))
        if not self._events and peer.machine.only_processes(event):
            self._process(peer, conn, msg, now)  # the row is Process, same state: no Step to take
            return
        self._run(peer, event, now, conn, msg)

    def _header_error(self, conn: Connection, raw: bytes, error: DiameterError) -> None:
        """A message whose header we refuse: answer it if it was a request (RFC 6733 §7.2), else drop it."""
        if raw[4] & FLAG_REQUEST and conn.peer is not None:
            self._write(conn, header_error_answer(raw, self.local, error))
        else:
            self._effects.append(Notice("bad-header", conn.peer.name if conn.peer else None, error.message,
                                        conn.id))
            if conn.peer is None:
                self._close(conn)

    def _on_cer(self, conn: Connection, cer: Message, now: float) -> None:
        origin_host: str | None = None
        peer = None
        try:  # RFC 6733 §5.3: the peer is looked up by Origin-Host before any other work on the CER
            origin_host = cer_origin_host(cer)
            peer = self._peers.get(origin_host)
            if peer is None:  # a CER from an unknown peer is answered with 3010 and closed
                raise DiameterError(DIAMETER_UNKNOWN_PEER, "unknown peer")
            caps, common = accept_cer(self.local, cer, self._requests.known_avps, realm=peer.config.realm,
                                      allowed=peer.config.applications)
            if self._stopping:
                raise DiameterError(DIAMETER_UNABLE_TO_COMPLY, "shutting down")
        except DiameterError as e:
            event = ("unknown-peer" if e.result_code == DIAMETER_UNKNOWN_PEER and peer is None else
                     "no-common-application" if e.result_code == DIAMETER_NO_COMMON_APPLICATION else "peer-refused")
            self._effects.append(Notice(event, origin_host, f"{e.result_code} {e.message}", conn.id))
            self._write(conn, make_cea(self.local, cer, e.result_code, self.local.applications, e.failed_avp,
                                       e.message).encode())
            self._close(conn)
            return
        conn.cer = cer
        self._pending_conns -= 1
        conn.deadline = None
        peer.machine.peer_host = caps.origin_host
        self._run(peer, Event.R_CONN_CER, now, conn, cer, caps)

    def _on_cea(self, peer: PeerEntry, conn: Connection, cea: Message, now: float) -> None:
        if peer.state not in (State.WAIT_I_CEA, State.WAIT_RETURNS):  # a CEA nobody waits for (§6.2.1)
            self._run(peer, Event.I_RCV_CEA, now, conn, cea)  # the table ignores it in the other states
            return
        try:
            result = cea.find(RESULT_CODE)
            caps = parse_capabilities(cea)
            ok = result is not None and result.u32 == DIAMETER_SUCCESS
        except DiameterError as e:
            self._effects.append(Notice("bad-cea", peer.name, e.message, conn.id))
            ok, caps = False, None
        realm = peer.config.realm
        if (not ok or caps is None or caps.origin_host.lower() != peer.name.lower()
                or (realm is not None and caps.origin_realm.lower() != realm.lower())):  # not the peer we know
            self._run(peer, Event.I_RCV_NON_CEA, now, conn, cea)
            return
        self._run(peer, Event.I_RCV_CEA, now, conn, cea, caps)

__all__ = [
    "AnswerReceived", "Application", "Close", "Connect", "Effect", "Node", "NodeSettings", "Notice",
    "PeerConfig", "PeerDown", "PeerUp", "RequestFailed", "RequestReceived", "Write",
]
