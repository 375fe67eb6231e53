"""What the sans-IO node hands the transport (`Node.pop_effects()`), and the settings it runs with."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from ocs.diameter.capabilities import PeerCapabilities
from ocs.diameter.message import Message


@dataclass(frozen=True, slots=True)
class NodeSettings:
    watchdog_interval: float = 30.0      # RFC 3539 Twinit
    in_flight_limit: int = 1000          # requests handed to applications and not yet answered
    in_flight_floor: int = 32            # each open peer may always have this many (fair share, see Node)
    request_timeout: float = 10.0        # for requests we send
    cer_timeout: float = 10.0            # an inbound connection must send its CER within this
    cea_timeout: float = 10.0            # Wait-I-CEA, Wait-Returns
    connect_timeout: float = 10.0        # Wait-Conn-Ack
    dpa_timeout: float = 5.0             # Closing
    drain_timeout: float = 10.0          # on stop: longest wait for in-flight answers before the DPR goes out
    reconnect_interval: float = 30.0     # RFC 6733 §2.1 Tc
    duplicate_window: float = 30.0       # how long answers are kept for retransmissions
    duplicate_max: int = 100_000
    max_connections: int = 1024          # transport connections at once, all kinds
    max_pending_connections: int = 64    # inbound connections whose CER is not yet accepted
    max_cer_size: int = 4096             # largest frame accepted before the CER is (a CER is a few hundred octets)


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
    peer: str        # the configured peer whose CER authenticated the connection
    message: Message
    conn_id: int     # the connection the request came on
    realm: str       # the Origin-Realm the peer's CER proved


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
    """Something worth a log line and a metric: `event` is a stable name; `conn_id` is set for
    connection-level notices (refused peer, framing error, CER timeout, caps) so the transport can log the
    remote address."""

    event: str
    peer: str | None = None
    detail: str = ""
    conn_id: int | None = None


Effect = Connect | Write | Close | RequestReceived | AnswerReceived | RequestFailed | PeerUp | PeerDown | Notice
