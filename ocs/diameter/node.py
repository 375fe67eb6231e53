"""The Diameter node: connections, framing, peers, correlation and the base protocol's own answers.

Theory of operation
-------------------
`Node` is sans-IO (the aioquic way). The transport tells it what happened — `connection_made`, `data_received`,
`connection_lost`, `connect_failed`, `on_timer` — always with `now`, and the application answers requests with
`send_answer`. After each call the transport takes `pop_effects()` (bytes to write, connections to open or close,
requests for the applications, peer changes) and re-arms one timer at `next_deadline()`.

A new inbound connection is anonymous until its CER names a configured peer (RFC 6733 §5.3); then the peer's
state machine (`ocs.diameter.peer`) takes it. Requests pass the base protocol's checks here, so that
applications see only requests they can serve: duplicate (RFC 6733 §5.5.4/§6.2: End-to-End-Id + Origin-Host),
in-flight limit (3004), application (3007) and command (3001) support, AVP parsing (5014), M-bit AVPs unknown to
the dictionary (5001) and missing required AVPs (5005).
"""

from __future__ import annotations

import heapq
import random
from collections import OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import NamedTuple

from ocs.diameter import avp as avps_
from ocs.diameter.answers import error_answer, make_dpa, make_dpr, make_dwa, make_dwr
from ocs.diameter.avp import Avp
from ocs.diameter.capabilities import (
    Application,
    LocalIdentity,
    PeerCapabilities,
    common_applications,
    make_cea,
    make_cer,
    parse_capabilities,
)
from ocs.diameter.codes import (
    APP_COMMON,
    AVP_MANDATORY,
    CMD_CAPABILITIES_EXCHANGE,
    CMD_DEVICE_WATCHDOG,
    CMD_DISCONNECT_PEER,
    DIAMETER_APPLICATION_UNSUPPORTED,
    DIAMETER_AVP_UNSUPPORTED,
    DIAMETER_COMMAND_UNSUPPORTED,
    DIAMETER_MISSING_AVP,
    DIAMETER_NO_COMMON_APPLICATION,
    DIAMETER_SUCCESS,
    DIAMETER_TOO_BUSY,
    DIAMETER_UNABLE_TO_COMPLY,
    DIAMETER_UNKNOWN_PEER,
    DISCONNECT_REBOOTING,
    FLAG_REQUEST,
    ORIGIN_HOST,
    RESULT_CODE,
)
from ocs.diameter.dictionary import Dictionary
from ocs.diameter.errors import DiameterError, FramingError
from ocs.diameter.message import Message, message_length
from ocs.diameter.peer import Act, Event, State, elect, transition
from ocs.diameter.watchdog import Watchdog, WatchdogAction

# --- configuration -------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PeerConfig:
    origin_host: str
    realm: str | None = None
    connect: tuple[str, int] | None = None  # connect out to this address (we are then the initiator too)


@dataclass(frozen=True, slots=True)
class NodeSettings:
    watchdog_interval: float = 30.0      # RFC 3539 Twinit
    in_flight_limit: int = 1000          # requests handed to applications and not yet answered
    request_timeout: float = 10.0        # for requests we send
    cer_timeout: float = 10.0            # an inbound connection must send its CER within this
    cea_timeout: float = 10.0            # Wait-I-CEA, Wait-Returns
    connect_timeout: float = 10.0        # Wait-Conn-Ack
    dpa_timeout: float = 5.0             # Closing
    reconnect_interval: float = 30.0     # RFC 6733 §2.1 Tc
    duplicate_window: float = 30.0       # how long answers are kept for retransmissions
    duplicate_max: int = 100_000


# --- effects handed to the transport ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Connect:
    peer: str
    host: str
    port: int


class Write(NamedTuple):  # a tuple, like RequestReceived: one of each per request on the hot path
    conn_id: int
    data: bytes


@dataclass(frozen=True, slots=True)
class Close:
    conn_id: int


class RequestReceived(NamedTuple):
    token: int       # hand back to send_answer
    peer: str
    message: Message


@dataclass(frozen=True, slots=True)
class AnswerReceived:
    peer: str
    hop_by_hop: int
    message: Message


@dataclass(frozen=True, slots=True)
class RequestFailed:
    peer: str
    hop_by_hop: int
    reason: str      # "timeout" | "peer-down"


@dataclass(frozen=True, slots=True)
class PeerUp:
    peer: str
    conn_id: int
    capabilities: PeerCapabilities


@dataclass(frozen=True, slots=True)
class PeerDown:
    peer: str
    reason: str


@dataclass(frozen=True, slots=True)
class Notice:
    """Something worth a log line and a metric: `event` is a stable name."""

    event: str
    peer: str | None = None
    detail: str = ""
    conn_id: int | None = None  # the connection it happened on, when there is one (the logs name its address)


Effect = Connect | Write | Close | RequestReceived | AnswerReceived | RequestFailed | PeerUp | PeerDown | Notice

_TIMED = {
    State.WAIT_CONN_ACK: "connect_timeout",
    State.WAIT_I_CEA: "cea_timeout",
    State.WAIT_CONN_ACK_ELECT: "connect_timeout",
    State.WAIT_RETURNS: "cea_timeout",
    State.CLOSING: "dpa_timeout",
}


@dataclass(slots=True, eq=False)
class _Conn:
    id: int
    initiator: bool
    peer: _Peer | None = None
    buf: bytearray = field(default_factory=bytearray)
    deadline: float | None = None   # inbound: CER expected by then
    cer: Message | None = None       # the CER that attached this responder connection


@dataclass(slots=True, eq=False)
class _Peer:
    config: PeerConfig
    state: State = State.CLOSED
    i_conn: _Conn | None = None
    r_conn: _Conn | None = None
    active: _Conn | None = None
    capabilities: PeerCapabilities | None = None
    applications: frozenset[int] = frozenset()
    deadline: float | None = None
    reconnect_at: float | None = None
    watchdog: Watchdog | None = None

    @property
    def name(self) -> str:
        return self.config.origin_host


class Node:
    def __init__(
        self,
        local: LocalIdentity,
        peers: Iterable[PeerConfig],
        dictionary: Dictionary,
        handlers: Iterable[tuple[int, int]],
        settings: NodeSettings | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.local = local
        self.settings = settings or NodeSettings()
        self.dictionary = dictionary
        self._known_avps = frozenset((d.code, d.vendor_id) for d in dictionary.avps())
        self._rng = rng or random.Random()
        self._peers = {p.origin_host.lower(): _Peer(p) for p in peers}
        self._handled_commands = frozenset(handlers)
        self._conns: dict[int, _Conn] = {}
        self._next_conn = 1
        self._effects: list[Effect] = []
        self._hbh = self._rng.getrandbits(32)
        self._e2e = self._rng.getrandbits(20)
        self._stopping = False
        # requests we handed to applications: token -> (conn, hop-by-hop, duplicate key)
        self._in_flight: dict[int, tuple[_Conn, int, tuple[str, int]]] = {}
        self._next_token = 1
        self._answered: OrderedDict[tuple[str, int], tuple[float, bytes | None]] = OrderedDict()
        # requests we sent: hop-by-hop -> peer name; with a heap of deadlines
        self._outstanding: dict[int, str] = {}
        self._timeouts: list[tuple[float, int]] = []
        self._required: dict[tuple[int, int], tuple[tuple[int, int, str], ...]] = {}

    # --- queries --------------------------------------------------------------------------------------------
    def pop_effects(self) -> list[Effect]:
        effects, self._effects = self._effects, []
        return effects

    def peer_state(self, origin_host: str) -> State:
        return self._peers[origin_host.lower()].state

    def is_open(self, origin_host: str) -> bool:
        """True when a configured peer is in I-Open or R-Open (requests can be sent to it)."""
        peer = self._peers.get(origin_host.lower())
        return peer is not None and peer.state in (State.I_OPEN, State.R_OPEN)

    def peer_states(self) -> dict[str, State]:
        return {p.name: p.state for p in self._peers.values()}

    @property
    def in_flight(self) -> int:
        return len(self._in_flight)

    @property
    def all_closed(self) -> bool:
        return all(p.state is State.CLOSED for p in self._peers.values()) and not self._conns

    def next_deadline(self) -> float | None:
        deadlines = [c.deadline for c in self._conns.values() if c.deadline is not None]
        for p in self._peers.values():
            if p.deadline is not None:
                deadlines.append(p.deadline)
            if p.reconnect_at is not None:
                deadlines.append(p.reconnect_at)
            if p.watchdog is not None:
                deadlines.append(p.watchdog.deadline)
        if self._timeouts:
            deadlines.append(self._timeouts[0][0])
        if self._answered:
            deadlines.append(next(iter(self._answered.values()))[0])
        return min(deadlines) if deadlines else None

    # --- transport events ----------------------------------------------------------------------------------
    def start(self, now: float) -> None:
        for peer in self._peers.values():
            if peer.config.connect is not None:
                self._run(peer, Event.START, now)

    def stop(self, now: float) -> None:
        """Graceful stop: DPR to every open peer (RFC 6733 §5.4), drop the rest, and do not reconnect."""
        self._stopping = True
        for peer in self._peers.values():
            peer.reconnect_at = None
            self._run(peer, Event.STOP, now)
        for conn in list(self._conns.values()):
            if conn.peer is None:
                self._close(conn)

    def connection_made(self, now: float, peer: str | None = None) -> int:
        """A transport connection is up: inbound (peer None) or the outbound one we asked for with Connect."""
        conn = _Conn(self._next_conn, initiator=peer is not None)
        self._next_conn += 1
        self._conns[conn.id] = conn
        if peer is None:
            conn.deadline = now + self.settings.cer_timeout
            return conn.id
        p = self._peers[peer.lower()]
        if p.i_conn is not None or p.state not in (State.WAIT_CONN_ACK, State.WAIT_CONN_ACK_ELECT):
            self._close(conn)  # a connect we gave up on (fallback rule: I-Disc)
            return conn.id
        p.i_conn = conn
        conn.peer = p
        self._run(p, Event.I_RCV_CONN_ACK, now, conn)
        return conn.id

    def connect_failed(self, peer: str, now: float) -> None:
        self._run(self._peers[peer.lower()], Event.I_RCV_CONN_NACK, now)

    def connection_lost(self, conn_id: int, now: float) -> None:
        conn = self._conns.pop(conn_id, None)
        if conn is None:  # we closed it ourselves
            return
        peer = conn.peer
        if peer is None:
            return
        self._run(peer, Event.I_PEER_DISC if conn is peer.i_conn else Event.R_PEER_DISC, now, conn)

    def data_received(self, conn_id: int, data: bytes, now: float) -> None:
        conn = self._conns.get(conn_id)
        if conn is None:
            return
        buf = conn.buf
        buf += data
        pos = 0
        size = len(buf)
        while size - pos >= 4:
            try:
                length = message_length(buf[pos:pos + 4])
            except FramingError as e:
                # RFC 6733 §3: a stream we cannot frame is closed; other connections are not affected.
                self._effects.append(Notice("framing-error", conn.peer.name if conn.peer else None, str(e),
                                            conn.id))
                self._close(conn)
                self._lost(conn, now)
                return
            if size - pos < length:
                break
            raw = bytes(buf[pos:pos + length])
            pos += length
            self._on_message(conn, raw, now)
            if conn.id not in self._conns:
                return
        if pos:
            del buf[:pos]

    def on_timer(self, now: float) -> None:
        for conn in list(self._conns.values()):
            if conn.deadline is not None and conn.deadline <= now and conn.peer is None:
                self._effects.append(Notice("cer-timeout", conn_id=conn.id))
                self._close(conn)
        for peer in self._peers.values():
            if peer.deadline is not None and peer.deadline <= now:
                peer.deadline = None
                self._run(peer, Event.TIMEOUT, now)
            if peer.reconnect_at is not None and peer.reconnect_at <= now:
                peer.reconnect_at = None
                self._run(peer, Event.START, now)
            dog = peer.watchdog
            if dog is not None and dog.deadline <= now and peer.active is not None:
                self._watchdog_expired(peer, dog.expire(now), now)
        while self._timeouts and self._timeouts[0][0] <= now:
            _, hbh = heapq.heappop(self._timeouts)
            name = self._outstanding.pop(hbh, None)
            if name is not None:
                self._effects.append(RequestFailed(name, hbh, "timeout"))
        answered = self._answered
        while answered:
            key, (expiry, _) = next(iter(answered.items()))
            if expiry > now:
                break
            del answered[key]

    # --- application side -----------------------------------------------------------------------------------
    def send_answer(self, token: int, answer: Message | bytes, now: float) -> None:
        entry = self._in_flight.pop(token, None)
        if entry is None:
            raise KeyError(f"no request in flight with token {token}")  # our bug
        conn, hbh, key = entry
        data = answer if isinstance(answer, bytes) else answer.encode()
        self._answered[key] = (now + self.settings.duplicate_window, data)
        self._answered.move_to_end(key)
        if conn.id in self._conns:
            self._write(conn, data)
        else:
            self._effects.append(Notice("answer-dropped", conn.peer.name if conn.peer else None,
                                        "connection gone"))

    def send_request(self, peer_name: str, message: Message, now: float) -> int | None:
        """Send a request we originate (RAR, ASR, ...). Returns its hop-by-hop id, or None if the peer is not
        open. The answer arrives as AnswerReceived, or RequestFailed after the request timeout."""
        peer = self._peers[peer_name.lower()]
        actions, _ = transition(peer.state, Event.SEND_MESSAGE)
        if Act.REFUSE_SEND in actions or peer.active is None:
            return None
        message.flags |= FLAG_REQUEST
        message.hop_by_hop = self._next_hbh()
        if not message.end_to_end:
            message.end_to_end = self._next_e2e(now)
        self._outstanding[message.hop_by_hop] = peer.name
        heapq.heappush(self._timeouts, (now + self.settings.request_timeout, message.hop_by_hop))
        self._write(peer.active, message.encode())
        return message.hop_by_hop

    # --- internals: messages ----------------------------------------------------------------------------------
    def _next_hbh(self) -> int:
        self._hbh = (self._hbh + 1) & 0xFFFFFFFF
        return self._hbh

    def _next_e2e(self, now: float) -> int:
        # RFC 6733 §3: high 12 bits from the low bits of the time, low 20 bits a counter from a random start
        self._e2e = (self._e2e + 1) & 0xFFFFF
        return ((int(now) & 0xFFF) << 20) | self._e2e

    def _write(self, conn: _Conn, data: bytes) -> None:
        self._effects.append(Write(conn.id, data))

    def _close(self, conn: _Conn) -> None:
        if self._conns.pop(conn.id, None) is not None:
            self._effects.append(Close(conn.id))

    def _lost(self, conn: _Conn, now: float) -> None:
        """A connection we closed for a protocol error: tell its peer machine."""
        peer = conn.peer
        if peer is not None and (conn is peer.i_conn or conn is peer.r_conn):
            self._run(peer, Event.I_PEER_DISC if conn is peer.i_conn else Event.R_PEER_DISC, now, conn)

    def _on_message(self, conn: _Conn, raw: bytes, now: float) -> None:
        try:
            msg = Message.decode(raw)
        except DiameterError as e:
            self._header_error(conn, raw, e, now)
            return
        peer = conn.peer
        if peer is None:
            if msg.command_code == CMD_CAPABILITIES_EXCHANGE and msg.is_request and not conn.initiator:
                self._on_cer(conn, msg, now)
            else:  # RFC 6733 §5.3: the first message on a connection is a CER
                self._effects.append(Notice("no-cer", None, f"command {msg.command_code}", conn.id))
                self._close(conn)
            return
        initiator = conn is peer.i_conn
        if peer.watchdog is not None and conn is peer.active:
            peer.watchdog.received(now, msg.command_code == CMD_DEVICE_WATCHDOG and not msg.is_request)
        cmd = msg.command_code
        if cmd == CMD_CAPABILITIES_EXCHANGE:
            if initiator and not msg.is_request and peer.state in (State.WAIT_I_CEA, State.WAIT_RETURNS):
                self._on_cea(peer, conn, msg, now)
            else:  # a CER or CEA on an established connection: not allowed (RFC 6733 §5.3)
                self._effects.append(Notice("unexpected-capabilities-exchange", peer.name, conn_id=conn.id))
                self._close(conn)
                self._lost(conn, now)
            return
        if initiator and peer.state is State.WAIT_I_CEA:
            self._run(peer, Event.I_RCV_NON_CEA, now, conn, msg)
            return
        if cmd == CMD_DEVICE_WATCHDOG:
            event = (Event.I_RCV_DWR if initiator else Event.R_RCV_DWR) if msg.is_request else (
                Event.I_RCV_DWA if initiator else Event.R_RCV_DWA)
        elif cmd == CMD_DISCONNECT_PEER:
            event = (Event.I_RCV_DPR if initiator else Event.R_RCV_DPR) if msg.is_request else (
                Event.I_RCV_DPA if initiator else Event.R_RCV_DPA)
        else:
            event = Event.I_RCV_MESSAGE if initiator else Event.R_RCV_MESSAGE
        self._run(peer, event, now, conn, msg)

    def _header_error(self, conn: _Conn, raw: bytes, error: DiameterError, now: float) -> None:
        """A message whose header we refuse: answer it if it was a request (RFC 6733 §7.2), else drop it."""
        flags = raw[4]
        if flags & FLAG_REQUEST and conn.peer is not None and conn.id in self._conns:
            request = Message(int.from_bytes(raw[5:8], "big"), int.from_bytes(raw[8:12], "big"), flags & ~0x20,
                              int.from_bytes(raw[12:16], "big"), int.from_bytes(raw[16:20], "big"))
            request._avps = []
            self._write(conn, error_answer(request, self.local.origin_host, self.local.origin_realm,
                                           error).encode())
        else:
            self._effects.append(Notice("bad-header", conn.peer.name if conn.peer else None, error.message,
                                                conn.id))
            if conn.peer is None:
                self._close(conn)

    def _on_cer(self, conn: _Conn, cer: Message, now: float) -> None:
        try:
            caps = parse_capabilities(cer)
        except DiameterError as e:
            self._effects.append(Notice("bad-cer", None, e.message, conn.id))
            self._refuse_cer(conn, cer, e.result_code, e.message, e.failed_avp)
            return
        peer = self._peers.get(caps.origin_host.lower())
        if peer is None:  # RFC 6733 §5.3: a CER from an unknown peer is answered with 3010 and closed
            self._effects.append(Notice("unknown-peer", caps.origin_host, conn_id=conn.id))
            self._refuse_cer(conn, cer, DIAMETER_UNKNOWN_PEER, "unknown peer")
            return
        common = common_applications(self.local, caps)
        if not common:  # RFC 6733 §5.3: no common application: 5010 and close
            self._effects.append(Notice("no-common-application", peer.name, conn_id=conn.id))
            self._refuse_cer(conn, cer, DIAMETER_NO_COMMON_APPLICATION, "no common application")
            return
        if self._stopping:
            self._refuse_cer(conn, cer, DIAMETER_UNABLE_TO_COMPLY, "shutting down")
            return
        conn.cer = cer
        conn.deadline = None
        self._run(peer, Event.R_CONN_CER, now, conn, cer, caps)

    def _refuse_cer(self, conn: _Conn, cer: Message, result_code: int, text: str, failed: Avp | None = None) -> None:
        self._write(conn, make_cea(self.local, cer, result_code, self.local.applications, failed, text).encode())
        self._close(conn)

    def _on_cea(self, peer: _Peer, conn: _Conn, cea: Message, now: float) -> None:
        try:
            result = cea.find(RESULT_CODE)
            caps = parse_capabilities(cea)
            ok = result is not None and result.u32 == DIAMETER_SUCCESS
        except DiameterError as e:
            self._effects.append(Notice("bad-cea", peer.name, e.message))
            ok, caps = False, None
        if not ok or caps is None or caps.origin_host.lower() != peer.name.lower():
            self._run(peer, Event.I_RCV_NON_CEA, now, conn, cea)
            return
        self._run(peer, Event.I_RCV_CEA, now, conn, cea, caps)

    # --- internals: the peer machine --------------------------------------------------------------------------
    def _run(self, peer: _Peer, event: Event, now: float, conn: _Conn | None = None, msg: Message | None = None,
             caps: PeerCapabilities | None = None) -> None:
        before = peer.state
        actions, after = transition(before, event)
        won = False
        for act in actions:
            if act is Act.PROCESS:  # first: every application message of an open peer comes this way
                assert conn is not None and msg is not None
                self._process(peer, conn, msg, now)
            elif act is Act.I_SND_CONN_REQ:
                assert peer.config.connect is not None
                host, port = peer.config.connect
                self._effects.append(Connect(peer.name, host, port))
            elif act is Act.R_ACCEPT:
                assert conn is not None
                peer.r_conn, conn.peer = conn, peer
            elif act is Act.PROCESS_CER:
                assert caps is not None
                self._adopt(peer, caps)
            elif act is Act.R_SND_CEA:
                r = peer.r_conn
                assert r is not None and r.cer is not None and peer.capabilities is not None
                common = common_applications(self.local, peer.capabilities)
                self._write(r, make_cea(self.local, r.cer, DIAMETER_SUCCESS, common).encode())
            elif act is Act.I_SND_CER:
                assert peer.i_conn is not None
                self._write(peer.i_conn, make_cer(self.local, self._next_hbh(), self._next_e2e(now)).encode())
            elif act in (Act.CLEANUP, Act.ERROR):
                if act is Act.ERROR:
                    self._effects.append(Notice("peer-error", peer.name, f"{event.value} in {before.value}"))
                for c in (peer.i_conn, peer.r_conn):
                    if c is not None:
                        self._close(c)
                peer.i_conn = peer.r_conn = None
            elif act is Act.PROCESS_CEA:
                assert caps is not None
                self._adopt(peer, caps)
            elif act is Act.ELECT:
                other = peer.capabilities.origin_host if peer.capabilities is not None else peer.name
                won = elect(self.local.origin_host, other)
            elif act is Act.I_DISC:
                if peer.i_conn is not None:
                    self._close(peer.i_conn)
                    peer.i_conn = None
            elif act is Act.R_DISC:
                if peer.r_conn is not None:
                    self._close(peer.r_conn)
                    peer.r_conn = None
            elif act is Act.R_REJECT:
                assert conn is not None
                self._effects.append(Notice("connection-rejected", peer.name, f"in {before.value}", conn.id))
                self._close(conn)
            elif act is Act.PROCESS_DWR or act is Act.PROCESS_DWA:
                pass  # liveness is noted by the watchdog for every message received
            elif act is Act.SND_DWA:
                assert conn is not None and msg is not None
                self._write(conn, make_dwa(msg, self.local.origin_host, self.local.origin_realm,
                                           self.local.origin_state_id).encode())
            elif act is Act.SND_DPR:
                assert peer.active is not None
                self._write(peer.active, make_dpr(self.local.origin_host, self.local.origin_realm,
                                                  DISCONNECT_REBOOTING, self._next_hbh(), self._next_e2e(now)).encode())
            elif act is Act.SND_DPA:
                assert conn is not None and msg is not None
                self._write(conn, make_dpa(msg, self.local.origin_host, self.local.origin_realm).encode())
            elif act is Act.SND_MESSAGE or act is Act.REFUSE_SEND or act is Act.IGNORE:
                pass  # sends go through send_request, which consults the table itself
            else:  # pragma: no cover - the table names only the actions above
                raise AssertionError(act)
        peer.state = after
        if after is not before:
            self._entered(peer, before, after, now)
        if won and peer.state is State.WAIT_RETURNS:
            self._run(peer, Event.WIN_ELECTION, now)

    def _adopt(self, peer: _Peer, caps: PeerCapabilities) -> None:
        peer.capabilities = caps
        peer.applications = frozenset(a.app_id for a in common_applications(self.local, caps)) | {APP_COMMON}

    def _entered(self, peer: _Peer, before: State, after: State, now: float) -> None:
        timer = _TIMED.get(after)
        peer.deadline = now + getattr(self.settings, timer) if timer else None
        if after in (State.R_OPEN, State.I_OPEN):
            peer.active = peer.r_conn if after is State.R_OPEN else peer.i_conn
            assert peer.active is not None and peer.capabilities is not None
            peer.watchdog = Watchdog(self.settings.watchdog_interval, self._rng)
            peer.watchdog.start(now)
            self._effects.append(PeerUp(peer.name, peer.active.id, peer.capabilities))
        elif after is State.CLOSED:
            for c in (peer.i_conn, peer.r_conn):
                if c is not None:
                    self._close(c)
            was_open = before in (State.R_OPEN, State.I_OPEN, State.CLOSING)
            peer.i_conn = peer.r_conn = peer.active = None
            peer.watchdog = None
            for hbh, name in list(self._outstanding.items()):
                if name == peer.name:
                    del self._outstanding[hbh]
                    self._effects.append(RequestFailed(name, hbh, "peer-down"))
            if was_open:
                self._effects.append(PeerDown(peer.name, before.value))
            if peer.config.connect is not None and not self._stopping:
                peer.reconnect_at = now + self.settings.reconnect_interval

    def _watchdog_expired(self, peer: _Peer, action: WatchdogAction, now: float) -> None:
        if action is WatchdogAction.SEND_DWR:
            assert peer.active is not None
            self._write(peer.active, make_dwr(self.local.origin_host, self.local.origin_realm,
                                              self.local.origin_state_id, self._next_hbh(),
                                              self._next_e2e(now)).encode())
        elif action is WatchdogAction.SUSPECT:
            self._effects.append(Notice("watchdog-suspect", peer.name))
        elif action is WatchdogAction.CLOSE:
            self._effects.append(Notice("watchdog-down", peer.name))
            conn = peer.active
            assert conn is not None
            self._close(conn)
            self._run(peer, Event.I_PEER_DISC if conn is peer.i_conn else Event.R_PEER_DISC, now, conn)

    # --- internals: requests and answers for the applications ---------------------------------------------------
    def _process(self, peer: _Peer, conn: _Conn, msg: Message, now: float) -> None:
        if not msg.is_request:
            name = self._outstanding.pop(msg.hop_by_hop, None)
            if name is None:  # RFC 6733 §6.2.1: an answer we cannot match is discarded
                self._effects.append(Notice("unmatched-answer", peer.name, f"hbh {msg.hop_by_hop}"))
            else:
                self._effects.append(AnswerReceived(name, msg.hop_by_hop, msg))
            return
        try:
            origin = msg.find(ORIGIN_HOST)
            key = (origin.utf8 if origin is not None else peer.name, msg.end_to_end)
            # RFC 6733 §6.2: a retransmission of a request already answered gets the same answer again
            seen = self._answered.get(key) if msg.is_retransmit else None
            if seen is not None:
                cached = seen[1]
                if cached is None:
                    self._effects.append(Notice("duplicate-in-flight", peer.name))
                else:
                    self._effects.append(Notice("duplicate-answered", peer.name))
                    self._write(conn, cached[:12] + msg.hop_by_hop.to_bytes(4, "big") + cached[16:])
                return
            self._check(peer, msg)
        except DiameterError as e:
            self._write(conn, error_answer(msg, self.local.origin_host, self.local.origin_realm, e).encode())
            return
        token = self._next_token
        self._next_token += 1
        self._in_flight[token] = (conn, msg.hop_by_hop, key)
        answered = self._answered
        answered[key] = (now + self.settings.duplicate_window, None)  # in flight: a retransmission is dropped
        if len(answered) > self.settings.duplicate_max:
            answered.popitem(last=False)
        self._effects.append(RequestReceived(token, peer.name, msg))

    def _check(self, peer: _Peer, msg: Message) -> None:
        """The base protocol's checks before an application sees a request (RFC 6733 §6.1, §7.1)."""
        if len(self._in_flight) >= self.settings.in_flight_limit:
            raise DiameterError(DIAMETER_TOO_BUSY, "in-flight limit reached")
        if msg.application_id not in peer.applications:
            raise DiameterError(DIAMETER_APPLICATION_UNSUPPORTED, f"application {msg.application_id}")
        if (msg.application_id, msg.command_code) not in self._handled_commands:
            raise DiameterError(DIAMETER_COMMAND_UNSUPPORTED, f"command {msg.command_code}")
        known = self._known_avps
        avps = msg.avps
        present = {(a.code, a.vendor_id) for a in avps}
        if not present <= known:  # RFC 6733 §7.1.5: an unknown AVP with the M bit set is refused
            for a in avps:
                if a.flags & AVP_MANDATORY and (a.code, a.vendor_id) not in known:
                    raise DiameterError(DIAMETER_AVP_UNSUPPORTED, f"AVP {a.code} vendor {a.vendor_id}", a)
        for code, vendor_id, name in self._required_for(msg.application_id, msg.command_code):
            if (code, vendor_id) not in present:
                raise DiameterError(DIAMETER_MISSING_AVP, f"{name} missing",
                                    avps_.octets(code, b"", vendor_id))

    def _required_for(self, app_id: int, code: int) -> tuple[tuple[int, int, str], ...]:
        key = (app_id, code)
        found = self._required.get(key)
        if found is None:
            command = self.dictionary.command(code, app_id)
            names = command.request_required if command is not None else ()
            found = tuple((d.code, d.vendor_id, d.name) for d in map(self.dictionary.avp, names))
            self._required[key] = found
        return found


__all__ = [
    "AnswerReceived", "Application", "Close", "Connect", "Effect", "Node", "NodeSettings", "Notice",
    "PeerConfig", "PeerDown", "PeerUp", "RequestFailed", "RequestReceived", "Write",
]
