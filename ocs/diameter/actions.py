"""Carrying out the peer machine's actions (RFC 6733 §5.6) for the node: connections, CER/CEA, DWA, DPR/DPA.

`PeerActions` is the part of `Node` that feeds a peer's `PeerMachine` one event at a time (`_run`; events that
arise while actions are carried out are queued, h11's fixed point), performs each `Step`'s actions in order,
and reacts to the states entered (PeerUp, PeerDown, the watchdog, the reconnect timer, the fair share).
"""

from __future__ import annotations

import random
from collections import deque

from ocs.diameter.answers import make_dpa, make_dpr, make_dwa, make_dwr
from ocs.diameter.capabilities import LocalIdentity, PeerCapabilities, common_applications, make_cea, make_cer
from ocs.diameter.codes import APP_COMMON, DIAMETER_SUCCESS, DISCONNECT_REBOOTING
from ocs.diameter.correlation import Correlation
from ocs.diameter.effects import AnswerReceived, Close, Connect, Effect, NodeSettings, Notice, PeerDown, PeerUp, Write
from ocs.diameter.message import MAX_MESSAGE_LENGTH, Message
from ocs.diameter.peer import OPEN_STATES, Act, Event, State, Step
from ocs.diameter.peers import Connection, PeerEntry
from ocs.diameter.requests import Requests
from ocs.diameter.watchdog import Watchdog, WatchdogAction

_UP = OPEN_STATES | {State.CLOSING}


class PeerActions:
    local: LocalIdentity
    settings: NodeSettings
    _rng: random.Random
    _conns: dict[int, Connection]
    _pending_conns: int
    _effects: list[Effect]
    _ids: Correlation
    _requests: Requests
    _stopping: bool
    _open_peers: int
    _events: deque[tuple[PeerEntry, Event, Connection | None, Message | None]]

    # --- internals: connections --------------------------------------------------------------------------------
    def _write(self, conn: Connection, data: bytes) -> None:
        self._effects.append(Write(conn.id, data))

    def _close(self, conn: Connection, effect: bool = True) -> None:
        if self._conns.pop(conn.id, None) is not None:
            if not conn.initiator and conn.deadline is not None:
                self._pending_conns -= 1
                conn.deadline = None
            if effect:
                self._effects.append(Close(conn.id))

    def _lost(self, conn: Connection, now: float) -> None:
        """A connection gone (closed by the peer, or by us for a protocol error): tell its peer machine."""
        peer = conn.peer
        if peer is not None and (conn is peer.i_conn or conn is peer.r_conn):
            self._run(peer, Event.I_PEER_DISC if conn is peer.i_conn else Event.R_PEER_DISC, now, conn)

    # --- internals: the peer machine's actions ------------------------------------------------------------------
    def _run(self, peer: PeerEntry, event: Event, now: float, conn: Connection | None = None,
             msg: Message | None = None, caps: PeerCapabilities | None = None) -> None:
        """Feed one event to the peer's machine. Events raised while carrying out actions (a connection closed
        for an error) are queued and fed after, so that every step completes before the next starts."""
        if caps is not None:
            peer.capabilities, peer.applications = caps, self._allowed(peer, caps)
            peer.identity = (caps.origin_host.lower().encode(), caps.origin_realm.lower().encode())
        self._events.append((peer, event, conn, msg))
        if len(self._events) > 1:
            return
        try:
            while self._events:
                p, ev, c, m = self._events[0]
                for step in p.machine.handle(ev, now):
                    for act in step.actions:
                        self._act(p, act, step, now, c, m)
                    if step.after is not step.before:
                        self._entered(p, step.before, step.after, now)
                self._events.popleft()
        finally:
            self._events.clear()  # only left non-empty by a bug of ours, which then propagates

    def _act(self, peer: PeerEntry, act: Act, step: Step, now: float, conn: Connection | None,
             msg: Message | None) -> None:
        if act is Act.PROCESS:  # first: every application message of an open peer comes this way
            assert conn is not None and msg is not None
            self._process(peer, conn, msg, now)
        elif act is Act.I_SND_CONN_REQ:
            assert peer.config.connect is not None
            self._effects.append(Connect(peer.name, *peer.config.connect))
        elif act is Act.R_ACCEPT:
            assert conn is not None
            peer.r_conn, conn.peer = conn, peer
        elif act is Act.R_SND_CEA:
            r = peer.r_conn
            assert r is not None and r.cer is not None and peer.capabilities is not None
            common = tuple(a for a in self.local.applications if a.app_id in peer.applications)
            self._write(r, make_cea(self.local, r.cer, DIAMETER_SUCCESS, common).encode())
        elif act is Act.I_SND_CER:
            assert peer.i_conn is not None
            self._write(peer.i_conn, make_cer(self.local, self._ids.next_hop_by_hop(),
                                              self._ids.next_end_to_end(now)).encode())
        elif act is Act.CLEANUP or act is Act.ERROR:
            if act is Act.ERROR:
                self._effects.append(Notice("peer-error", peer.name, f"{step.event.value} in {step.before.value}"))
            self._disc(peer, "i")
            self._disc(peer, "r")
        elif act is Act.I_DISC:
            self._disc(peer, "i")
        elif act is Act.R_DISC:
            self._disc(peer, "r")
        elif act is Act.R_REJECT or act is Act.I_REJECT:
            assert conn is not None
            self._effects.append(Notice("connection-rejected", peer.name, f"in {peer.state.value}", conn.id))
            if conn is peer.active and conn.in_flight:  # answers in flight still go out first
                conn.draining = True
            elif conn is peer.i_conn or conn is peer.r_conn:
                self._close(conn)
                self._lost(conn, now)
            else:
                self._close(conn)
        elif act is Act.SND_DWA:
            assert conn is not None and msg is not None
            self._write(conn, make_dwa(msg, self.local.origin_host, self.local.origin_realm,
                                       self.local.origin_state_id).encode())
        elif act is Act.SND_DPR:
            assert peer.active is not None
            self._write(peer.active, make_dpr(self.local.origin_host, self.local.origin_realm, DISCONNECT_REBOOTING,
                                              self._ids.next_hop_by_hop(), self._ids.next_end_to_end(now)).encode())
        elif act is Act.SND_DPA:
            assert conn is not None and msg is not None
            self._write(conn, make_dpa(msg, self.local.origin_host, self.local.origin_realm).encode())
        # PROCESS_CER/PROCESS_CEA: capabilities adopted in _run; PROCESS_DWR/DWA: the watchdog saw the message;
        # ELECT: the machine keeps the result; SND_MESSAGE/REFUSE_SEND: read by send_request; IGNORE: nothing

    def _disc(self, peer: PeerEntry, side: str) -> None:
        conn = peer.i_conn if side == "i" else peer.r_conn
        if conn is not None:
            self._close(conn)
            if side == "i":
                peer.i_conn = None
            else:
                peer.r_conn = None

    def _allowed(self, peer: PeerEntry, caps: PeerCapabilities) -> frozenset[int]:
        common = common_applications(self.local, caps, peer.config.applications)
        return frozenset(a.app_id for a in common) | {APP_COMMON}

    def _entered(self, peer: PeerEntry, before: State, after: State, now: float) -> None:
        if (after in _UP) != (before in _UP):
            self._open_peers += 1 if after in _UP else -1
            self._requests.open_peers_changed(self._open_peers)
        if after in OPEN_STATES:
            peer.active = peer.r_conn if after is State.R_OPEN else peer.i_conn
            assert peer.active is not None and peer.capabilities is not None
            peer.active.buffer.max_length = MAX_MESSAGE_LENGTH  # identified: full-size frames from now on
            peer.watchdog = Watchdog(self.settings.watchdog_interval, self._rng)
            peer.watchdog.start(now)
            self._effects.append(PeerUp(peer.name, peer.active.id, peer.capabilities))
        elif after is State.CLOSED:
            self._disc(peer, "i")
            self._disc(peer, "r")
            peer.active = peer.watchdog = peer.stop_at = None
            self._effects.extend(self._ids.peer_down(peer.name))
            if before in _UP:
                self._effects.append(PeerDown(peer.name, before.value))
            if peer.config.connect is not None and not self._stopping:
                peer.reconnect_at = now + self.settings.reconnect_interval

    def _watchdog_expired(self, peer: PeerEntry, action: WatchdogAction, now: float) -> None:
        if action is WatchdogAction.SEND_DWR:
            assert peer.active is not None
            self._write(peer.active, make_dwr(self.local.origin_host, self.local.origin_realm,
                                              self.local.origin_state_id, self._ids.next_hop_by_hop(),
                                              self._ids.next_end_to_end(now)).encode())
        elif action is WatchdogAction.SUSPECT:
            self._effects.append(Notice("watchdog-suspect", peer.name))
        elif action is WatchdogAction.CLOSE:
            self._effects.append(Notice("watchdog-down", peer.name))
            conn = peer.active
            assert conn is not None
            self._close(conn)
            self._lost(conn, now)

    # --- internals: answers to our requests ---------------------------------------------------------------------
    def _process(self, peer: PeerEntry, conn: Connection, msg: Message, now: float) -> None:
        if msg.is_request:
            self._requests.received(peer, conn, msg, now)
            return
        name = self._ids.answered(msg.hop_by_hop)
        if name is None:  # RFC 6733 §6.2.1: an answer we cannot match is discarded
            self._effects.append(Notice("unmatched-answer", peer.name, f"hbh {msg.hop_by_hop}"))
        else:
            self._effects.append(AnswerReceived(name, msg.hop_by_hop, msg))


