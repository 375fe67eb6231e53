"""What a received message means to the peer machine, and the answer to a request whose header we refuse."""

from __future__ import annotations

from ocs.diameter.answers import error_answer
from ocs.diameter.capabilities import LocalIdentity
from ocs.diameter.codes import CMD_CAPABILITIES_EXCHANGE, CMD_DEVICE_WATCHDOG, CMD_DISCONNECT_PEER
from ocs.diameter.errors import DiameterError
from ocs.diameter.message import Message
from ocs.diameter.peer import Event

# (command, is request, on our connection) -> event of RFC 6733 §5.6
_EVENTS = {
    (CMD_DEVICE_WATCHDOG, True, True): Event.I_RCV_DWR,
    (CMD_DEVICE_WATCHDOG, True, False): Event.R_RCV_DWR,
    (CMD_DEVICE_WATCHDOG, False, True): Event.I_RCV_DWA,
    (CMD_DEVICE_WATCHDOG, False, False): Event.R_RCV_DWA,
    (CMD_DISCONNECT_PEER, True, True): Event.I_RCV_DPR,
    (CMD_DISCONNECT_PEER, True, False): Event.R_RCV_DPR,
    (CMD_DISCONNECT_PEER, False, True): Event.I_RCV_DPA,
    (CMD_DISCONNECT_PEER, False, False): Event.R_RCV_DPA,
    (CMD_CAPABILITIES_EXCHANGE, True, False): Event.R_CONN_CER,  # a CER again on the peer's connection
    (CMD_CAPABILITIES_EXCHANGE, False, True): Event.I_RCV_CEA,
}


def message_event(msg: Message, initiator: bool) -> Event | None:
    """The event a message received on an attached connection is; None for a CER on our connection or a CEA on
    theirs, which no state accepts (RFC 6733 §5.3)."""
    code = msg.command_code
    if code in (CMD_DEVICE_WATCHDOG, CMD_DISCONNECT_PEER, CMD_CAPABILITIES_EXCHANGE):
        return _EVENTS.get((code, msg.is_request, initiator))
    return Event.I_RCV_MESSAGE if initiator else Event.R_RCV_MESSAGE


def header_error_answer(raw: bytes, local: LocalIdentity, error: DiameterError) -> bytes:
    """The error answer to a request whose header was refused (RFC 6733 §7.2), built from the header alone."""
    flags = raw[4]
    request = Message(int.from_bytes(raw[5:8], "big"), int.from_bytes(raw[8:12], "big"), flags & ~0x20,
                      int.from_bytes(raw[12:16], "big"), int.from_bytes(raw[16:20], "big"))
    request._avps = []
    return error_answer(request, local.origin_host, local.origin_realm, error).encode()
