"""Dynamic authorization (RFC 5176): the Disconnect-Request and CoA-Request ocsd sends a router, as data.

`session_request` builds the attributes that identify a hotspot session (PEERS.md: User-Name +
Acct-Session-Id + Framed-IP-Address + NAS-IP-Address; a MAC alone may hit the wireless client); a
throttle CoA adds a lower Mikrotik-Rate-Limit. `outcome` names a response: ack, nak (with Error-Cause), or
timeout after the retransmissions (RFC 5176 §2.3: the same Identifier and authenticator on each send).
"""

from __future__ import annotations

from dataclasses import dataclass

from radius.packets import COA_ACK, COA_NAK, COA_REQUEST, DISCONNECT_ACK, DISCONNECT_NAK, DISCONNECT_REQUEST

ACK, NAK, TIMEOUT = "ack", "nak", "timeout"
KINDS = {"disconnect": DISCONNECT_REQUEST, "coa": COA_REQUEST}


@dataclass(frozen=True, slots=True)
class SessionRef:
    user: str
    session_id: str
    framed_ip: str
    nas_ip: str


def session_request(ref: SessionRef, rate_limit: str | None = None) -> list[tuple[str, object]]:
    attrs: list[tuple[str, object]] = [("User-Name", ref.user), ("Acct-Session-Id", ref.session_id)]
    if ref.framed_ip:
        attrs.append(("Framed-IP-Address", ref.framed_ip))
    if ref.nas_ip:
        attrs.append(("NAS-IP-Address", ref.nas_ip))  # RFC 5176 §3: identifies the NAS
    if rate_limit is not None:
        attrs.append(("Mikrotik-Rate-Limit", rate_limit))
    return attrs


def outcome(code: int | None) -> str:
    if code in (DISCONNECT_ACK, COA_ACK):
        return ACK
    if code in (DISCONNECT_NAK, COA_NAK):
        return NAK
    return TIMEOUT


__all__ = ["ACK", "KINDS", "NAK", "TIMEOUT", "SessionRef", "outcome", "session_request"]
