"""Requests the OCS sends on Gy (RFC 4006 §5.5): Re-Auth-Request (RFC 6733 §8.3, Re-Auth-Request-Type
AUTHORIZE_ONLY) after a top-up or a purchase re-opens a session that got its last grant or a 4012, so the
client asks for credit again with a CCR-U; Abort-Session-Request (RFC 6733 §8.5) when an operator ends a
session (open5gs ignores RAR's content and releases on ASR, PEERS.md). Both travel in application 4 to the
peer that owns the session (Destination-Host), built by name. Pure."""

from __future__ import annotations

from ocs.apps.gy_messages import APP_GY
from ocs.diameter.codes import FLAG_PROXIABLE, FLAG_REQUEST
from ocs.diameter.dictionary import Dictionary
from ocs.diameter.message import Message

AUTHORIZE_ONLY = 0  # RFC 6733 §8.12 Re-Auth-Request-Type


def _request(d: Dictionary, command: str, values: dict[str, object]) -> Message:
    code = d.command_named(command, 0).code  # a base protocol command, sent in the application of the session
    return Message(code, APP_GY, FLAG_REQUEST | FLAG_PROXIABLE, 0, 0, d.build(values))


def make_rar(d: Dictionary, origin_host: str, origin_realm: str, session_id: str, peer: str, realm: str) -> Message:
    return _request(d, "Re-Auth", {
        "Session-Id": session_id, "Origin-Host": origin_host, "Origin-Realm": origin_realm,
        "Destination-Realm": realm, "Destination-Host": peer, "Auth-Application-Id": APP_GY,
        "Re-Auth-Request-Type": AUTHORIZE_ONLY})


def make_asr(d: Dictionary, origin_host: str, origin_realm: str, session_id: str, peer: str, realm: str) -> Message:
    return _request(d, "Abort-Session", {
        "Session-Id": session_id, "Origin-Host": origin_host, "Origin-Realm": origin_realm,
        "Destination-Realm": realm, "Destination-Host": peer, "Auth-Application-Id": APP_GY})


__all__ = ["AUTHORIZE_ONLY", "make_asr", "make_rar"]
