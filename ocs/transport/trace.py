"""The Diameter trace (issue 13 point 2, `[log] trace = true` or `ocsd run --trace`), like FreeRADIUS' `-X`:
one log line per application request and answer, in both directions:

    diameter-request  direction=in  peer=mme.test application=s6a command=AIR session_id=... subscriber=00101...
    diameter-answer   direction=out peer=mme.test application=s6a command=AIA result_code=2001 vendor=0 seconds=...

With `[log] level = "debug"` each line also carries `avps`: every AVP decoded by the dictionary, nested for
Grouped AVPs. Secrets never reach it: the authentication vectors' members (TS 29.272 §7.3.18-§7.3.26: RAND,
XRES, AUTN, KASME, CK, IK, Kc, SRES), AUTS and RADIUS-style passwords are written as "***" (the subscriber's K
and OPc are never in a Diameter message at all). The subscriber is the User-Name (the IMSI on S6a, TS 29.272
§7.3.1 / RFC 6733 §8.14) or the first Subscription-Id-Data (Gy/Gx, RFC 4006 §8.46). Without trace the
transport holds no Tracer and pays one attribute test per message.
"""

from __future__ import annotations

import ipaddress
from typing import Any

import structlog

from ocs.diameter.answers import result_of
from ocs.diameter.dictionary import AvpDef, Dictionary
from ocs.diameter.message import Message
from ocs.diameter.peers import APPLICATION_IDS

log = structlog.get_logger("ocs.trace")

REDACTED = "***"
SECRET_AVPS = frozenset({"RAND", "XRES", "AUTN", "KASME", "Confidentiality-Key", "Integrity-Key", "Kc", "SRES",
                         "Re-Synchronization-Info", "User-Password", "CHAP-Password", "EAP-Payload",
                         "EAP-Master-Session-Key", "Accounting-EAP-Auth-Method"})
APPLICATION_NAMES = {v: k for k, v in APPLICATION_IDS.items()} | {0: "base"}


def jsonable(value: object) -> object:
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, list):
        return [jsonable(v) for v in value]
    if isinstance(value, tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, ipaddress.IPv4Address | ipaddress.IPv6Address):
        return str(value)
    if isinstance(value, str | int | float) or value is None:
        return value
    return str(value)


def redacted_tree(tree: list[Any]) -> list[Any]:
    """A dictionary tree [(name, value), ...] as JSON-friendly [[name, value], ...], secrets replaced."""
    out: list[Any] = []
    for name, value in tree:
        if name in SECRET_AVPS:
            out.append([name, REDACTED])
        elif isinstance(value, list):
            out.append([name, redacted_tree(value)])
        else:
            out.append([name, jsonable(value)])
    return out


def _maybe(d: Dictionary, name: str) -> AvpDef | None:
    try:
        return d.avp(name)
    except KeyError:
        return None


class Tracer:
    def __init__(self, dictionary: Dictionary, *, avps: bool = False) -> None:
        self.d = dictionary
        self.avps = avps
        self._session = dictionary.avp("Session-Id")
        self._user = dictionary.avp("User-Name")
        self._sub_id = _maybe(dictionary, "Subscription-Id")  # RFC 4006 §8.45, when that dictionary is loaded
        self._sub_data = _maybe(dictionary, "Subscription-Id-Data")

    def _fields(self, peer: str, direction: str, msg: Message, application: str | None) -> dict[str, Any]:
        command = self.d.command(msg.command_code, msg.application_id)
        name = command.name if command is not None else str(msg.command_code)
        fields: dict[str, Any] = {
            "direction": direction, "peer": peer,
            "application": application or APPLICATION_NAMES.get(msg.application_id, str(msg.application_id)),
            "command": name, "hop_by_hop": msg.hop_by_hop,
            "session_id": self._text(msg, self._session.code, self._session.vendor_id),
            "subscriber": self._subscriber(msg),
        }
        if self.avps:
            try:
                fields["avps"] = redacted_tree(self.d.tree(msg.avps))
            except Exception as e:  # a malformed AVP: the trace says so, the request is judged elsewhere
                fields["avps"] = f"undecodable: {e}"
        return fields

    @staticmethod
    def _text(msg: Message, code: int, vendor: int) -> str | None:
        a = msg.find(code, vendor)
        return a.data.decode("utf-8", "replace") if a is not None else None

    def _subscriber(self, msg: Message) -> str | None:
        user = self._text(msg, self._user.code, self._user.vendor_id)
        if user is not None or self._sub_id is None or self._sub_data is None:
            return user
        group = msg.find(self._sub_id.code, self._sub_id.vendor_id)
        if group is None:
            return None
        data = group.find(self._sub_data.code, self._sub_data.vendor_id)
        return data.data.decode("utf-8", "replace") if data is not None else None

    def request(self, peer: str, direction: str, msg: Message, application: str | None = None) -> None:
        log.info("diameter-request", **self._fields(peer, direction, msg, application))

    def answer(self, peer: str, direction: str, msg: Message, seconds: float, application: str | None = None,
               request: Message | None = None) -> None:
        fields = self._fields(peer, direction, msg, application)
        if fields["session_id"] is None and request is not None:
            fields["session_id"] = self._text(request, self._session.code, self._session.vendor_id)
        if fields["subscriber"] is None and request is not None:
            fields["subscriber"] = self._subscriber(request)
        result = result_of(msg)
        fields["result_code"], fields["vendor"] = result if result is not None else (None, None)
        fields["seconds"] = round(seconds, 6)
        log.info("diameter-answer", **fields)


__all__ = ["SECRET_AVPS", "Tracer", "redacted_tree"]
