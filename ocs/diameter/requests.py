"""Requests a peer sends us: the base protocol's checks, the fair in-flight share, and retransmissions.

Checks, in order, before an application sees a request (RFC 6733 §6.1, §7.1): the Origin-Host/Realm must be
the identity the peer's CER proved (3010 DIAMETER_UNKNOWN_PEER / 3003 DIAMETER_REALM_NOT_SERVED) unless the peer
is configured as a relay; a retransmission (T flag) of a request already answered gets that answer again, looked
up under the authenticated peer's key (`ocs.diameter.duplicates`); no request is taken from a peer we sent our
DPR to (3004); the application must be one the peer may use (3007); the peer must be within its share (3004);
the command one we handle (3001); AVPs with the M bit known (5001) and the required ones present (5005).

Fair share: each open peer may have `max(min(in_flight_floor, in_flight_limit), in_flight_limit // open
peers)` requests with the applications at once; past it, it gets 3004 (DIAMETER_TOO_BUSY, RFC 6733 §7.1.3)
whatever the others do, so one busy peer or a hung store never takes another peer's share. The total stays
within `max(in_flight_limit, open peers x floor)`.
"""

from __future__ import annotations

from ocs.diameter import avp as avps_
from ocs.diameter.answers import error_answer
from ocs.diameter.capabilities import LocalIdentity
from ocs.diameter.codes import (
    AVP_MANDATORY,
    DIAMETER_APPLICATION_UNSUPPORTED,
    DIAMETER_AVP_UNSUPPORTED,
    DIAMETER_COMMAND_UNSUPPORTED,
    DIAMETER_MISSING_AVP,
    DIAMETER_REALM_NOT_SERVED,
    DIAMETER_TOO_BUSY,
    DIAMETER_UNKNOWN_PEER,
    ORIGIN_HOST,
    ORIGIN_REALM,
)
from ocs.diameter.dictionary import Dictionary
from ocs.diameter.duplicates import DuplicateCache, Key
from ocs.diameter.effects import Effect, NodeSettings, Notice, RequestReceived, Write
from ocs.diameter.errors import DiameterError
from ocs.diameter.message import Message
from ocs.diameter.peer import State
from ocs.diameter.peers import Connection, PeerEntry
from ocs.diameter.validate import Pass, check_request, one_pass, passes


class Requests:
    def __init__(self, local: LocalIdentity, dictionary: Dictionary, handlers: frozenset[tuple[int, int]],
                 settings: NodeSettings, effects: list[Effect]) -> None:
        self.local = local
        self.settings = settings
        self.dictionary = dictionary
        self._known_avps = frozenset((d.code, d.vendor_id) for d in dictionary.avps())
        self._handled = handlers
        self._effects = effects  # the node's list: what this part emits goes there
        self._answered = DuplicateCache(settings.duplicate_window, settings.duplicate_max)
        self._in_flight: dict[int, tuple[Connection, Key]] = {}  # token -> (connection, duplicate key)
        self._next_token = 1
        self._required: dict[tuple[int, int], tuple[tuple[int, int, str], ...]] = {}
        self._passes: dict[tuple[int, int], Pass] = {}  # (application, command) -> its one-pass table
        self.share = settings.in_flight_limit

    @property
    def known_avps(self) -> frozenset[tuple[int, int]]:
        return self._known_avps

    def __len__(self) -> int:
        return len(self._in_flight)

    def open_peers_changed(self, open_peers: int) -> None:
        s = self.settings
        self.share = max(min(s.in_flight_floor, s.in_flight_limit), s.in_flight_limit // max(1, open_peers))

    def deadline(self) -> float | None:
        return self._answered.deadline()

    def expire(self, now: float) -> None:
        self._answered.expire(now)

    def received(self, peer: PeerEntry, conn: Connection, msg: Message, now: float) -> None:
        caps = peer.capabilities
        assert caps is not None
        try:
            origin = self._check_identity(peer, msg)
            # RFC 6733 §6.2: a retransmission of a request already answered gets the same answer again; the
            # key is the authenticated peer's, so that no peer can read another's answers
            key = (peer.key, origin, msg.end_to_end)
            seen = self._answered.get(key) if msg.is_retransmit else None
            if seen is not None:
                cached = seen[1]
                if cached is None:
                    self._effects.append(Notice("duplicate-in-flight", peer.name))
                else:
                    self._effects.append(Notice("duplicate-answered", peer.name))
                    self._effects.append(Write(conn.id, cached[:12] + msg.hop_by_hop.to_bytes(4, "big") +
                                               cached[16:]))
                return
            self._check(peer, msg)
        except DiameterError as e:
            self._effects.append(Write(conn.id, error_answer(msg, self.local.origin_host, self.local.origin_realm,
                                                             e).encode()))
            return
        token = self._next_token
        self._next_token += 1
        self._in_flight[token] = (conn, key)
        conn.in_flight += 1
        peer.in_flight += 1
        self._answered.pending(key, now)
        self._effects.append(RequestReceived(token, peer.name, msg, conn.id, caps.origin_realm))

    def answered(self, token: int, data: bytes, now: float) -> Connection:
        """The application answered: keep the answer for retransmissions; the connection to write it to."""
        entry = self._in_flight.pop(token, None)
        if entry is None:
            raise KeyError(f"no request in flight with token {token}")  # our bug
        conn, key = entry
        self._answered.answered(key, data, now)
        conn.in_flight -= 1
        assert conn.peer is not None
        conn.peer.in_flight -= 1
        return conn

    def _check_identity(self, peer: PeerEntry, msg: Message) -> bytes:
        """The request's Origin-Host (lower-case octets) once it is the peer's own, unless the peer is a relay.
        DiameterIdentity is an FQDN (RFC 6733 §4.3.1): ASCII, compared without case, here as octets."""
        host, realm = peer.identity
        found = claimed = None
        for a in msg.avps:  # both in one pass (base AVPs: vendor 0)
            code = a[0]
            if code == ORIGIN_HOST and found is None and not a[2]:
                found = a
                if claimed is not None:
                    break
            elif code == ORIGIN_REALM and claimed is None and not a[2]:
                claimed = a
                if found is not None:
                    break
        origin = found.data.lower() if found is not None else host  # missing: 5005 later
        if peer.config.relay:  # a DRA forwards for others (RFC 6733 §6.1.8): its requests name them
            return origin
        if origin != host:  # RFC 6733 §6.1, §7.1.3: not the peer its CER proved
            raise DiameterError(DIAMETER_UNKNOWN_PEER, "Origin-Host is not the peer's", found)
        if claimed is not None and claimed.data.lower() != realm:  # RFC 6733 §6.1, §7.1.3
            raise DiameterError(DIAMETER_REALM_NOT_SERVED, "Origin-Realm is not the peer's", claimed)
        return origin

    def _check(self, peer: PeerEntry, msg: Message) -> None:
        if peer.state is State.CLOSING:  # crossing our DPR (RFC 6733 §5.4): the peer should go elsewhere
            raise DiameterError(DIAMETER_TOO_BUSY, "disconnecting")
        if msg.application_id not in peer.applications:
            raise DiameterError(DIAMETER_APPLICATION_UNSUPPORTED, f"application {msg.application_id}")
        if peer.in_flight >= self.share:  # the peer's fair share (module docstring)
            raise DiameterError(DIAMETER_TOO_BUSY, "in-flight limit reached")
        if (msg.application_id, msg.command_code) not in self._handled:
            raise DiameterError(DIAMETER_COMMAND_UNSUPPORTED, f"command {msg.command_code}")
        # issue 15: one pass over the AVPs checks every rule below; only a request that breaks one (or an
        # unusual one) goes through them one by one, which raise the right answer
        key = (msg.application_id, msg.command_code)
        table = self._passes.get(key)
        if table is None:
            table = self._passes[key] = one_pass(
                self.dictionary, key[0], key[1], self._known_avps,
                tuple((c, v) for c, v, _ in self._required_for(key[0], key[1])))
        avps = msg.avps
        if passes(table, avps, AVP_MANDATORY):
            return
        known = self._known_avps
        for a in avps:  # RFC 6733 §7.1.5: an unknown AVP with the M bit set is refused
            if a[1] & AVP_MANDATORY and (a[0], a[2]) not in known:
                raise DiameterError(DIAMETER_AVP_UNSUPPORTED, f"AVP {a.code} vendor {a.vendor_id}", a)
        for code, vendor_id, name in self._required_for(msg.application_id, msg.command_code):
            for a in avps:
                if a[0] == code and a[2] == vendor_id:
                    break
            else:
                raise DiameterError(DIAMETER_MISSING_AVP, f"{name} missing", avps_.octets(code, b"", vendor_id))
        check_request(self.dictionary, msg)  # RFC 6733 §7.1.5 5009, 5014 (ocs.diameter.validate)

    def _required_for(self, app_id: int, code: int) -> tuple[tuple[int, int, str], ...]:
        key = (app_id, code)
        found = self._required.get(key)
        if found is None:
            command = self.dictionary.command(code, app_id)
            names = command.request_required if command is not None else ()
            found = tuple((d.code, d.vendor_id, d.name) for d in map(self.dictionary.avp, names))
            self._required[key] = found
        return found
