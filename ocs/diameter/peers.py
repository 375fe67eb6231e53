"""The peer table: configured peers, what each is allowed, and the transport connections the node holds.

A `PeerEntry` is one configured peer: its `PeerMachine` (which owns the state), the connections the machine
holds (initiator `i_conn`, responder `r_conn`, and the `active` one of an open peer), what its CER proved
(`capabilities`), the applications it may use, its watchdog and the requests of it in flight. A `Connection` is
one transport connection, anonymous until a CER names a configured peer (RFC 6733 §5.3).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from ocs.diameter.capabilities import PeerCapabilities
from ocs.diameter.framing import MessageBuffer
from ocs.diameter.message import Message
from ocs.diameter.peer import PeerMachine, State, Timers
from ocs.diameter.watchdog import Watchdog

# names of the applications a peer entry may list (`[[diameter.peers]] applications`), to their ids
APPLICATION_IDS = {"s6a": 16777251, "gx": 16777238, "gy": 4}  # TS 29.272, TS 29.212, RFC 4006


@dataclass(frozen=True, slots=True)
class PeerConfig:
    origin_host: str
    realm: str | None = None                # the Origin-Realm its CER must carry (None: any)
    connect: tuple[str, int] | None = None  # connect out to this address (we are then the initiator too)
    relay: bool = False                     # a relay/DRA: its requests may carry other Origin-Hosts/Realms
    applications: frozenset[int] | None = None  # application ids it may use; None: any common application


@dataclass(slots=True, eq=False)
class Connection:
    id: int
    initiator: bool
    buffer: MessageBuffer
    peer: PeerEntry | None = None
    deadline: float | None = None   # inbound: CER expected by then
    cer: Message | None = None      # the CER that attached this responder connection
    in_flight: int = 0              # requests that came on it and are not answered yet
    draining: bool = False          # rejected (a second CER): read nothing more, close once answers are out


@dataclass(slots=True, eq=False)
class PeerEntry:
    config: PeerConfig
    machine: PeerMachine
    i_conn: Connection | None = None
    r_conn: Connection | None = None
    active: Connection | None = None
    capabilities: PeerCapabilities | None = None
    identity: tuple[bytes, bytes] = (b"", b"")  # Origin-Host and Origin-Realm its CER/CEA proved, lower case
    applications: frozenset[int] = frozenset()
    reconnect_at: float | None = None
    watchdog: Watchdog | None = None
    in_flight: int = 0                # requests of this peer handed to applications, not yet answered
    stop_at: float | None = None      # stopping: the DPR waits for in-flight answers until then

    @property
    def name(self) -> str:
        return self.config.origin_host

    @property
    def key(self) -> str:
        return self.config.origin_host.lower()

    @property
    def state(self) -> State:
        return self.machine.state


class PeerTable:
    """Configured peers by Origin-Host (DiameterIdentity compares case-insensitively, RFC 6733 §4.3.1)."""

    def __init__(self, configs: Iterable[PeerConfig], local_host: str, timers: Timers) -> None:
        self._peers = {c.origin_host.lower(): PeerEntry(c, PeerMachine(local_host, c.origin_host, timers))
                       for c in configs}

    def get(self, origin_host: str) -> PeerEntry | None:
        return self._peers.get(origin_host.lower())

    def __getitem__(self, origin_host: str) -> PeerEntry:
        return self._peers[origin_host.lower()]

    def __iter__(self) -> Iterator[PeerEntry]:
        return iter(self._peers.values())
