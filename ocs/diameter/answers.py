"""Answers the base protocol writes itself: error answers per RFC 6733 §7.2 and the watchdog/disconnect pairs."""

from __future__ import annotations

from ocs.diameter import avp
from ocs.diameter.avp import Avp
from ocs.diameter.codes import (
    CMD_DEVICE_WATCHDOG,
    CMD_DISCONNECT_PEER,
    DISCONNECT_CAUSE,
    ERROR_MESSAGE,
    ERROR_REPORTING_HOST,
    EXPERIMENTAL_RESULT,
    EXPERIMENTAL_RESULT_CODE,
    FAILED_AVP,
    FLAG_REQUEST,
    ORIGIN_HOST,
    ORIGIN_REALM,
    ORIGIN_STATE_ID,
    RESULT_CODE,
    SESSION_ID,
    VENDOR_ID,
    is_protocol_error,
)
from ocs.diameter.errors import DiameterError
from ocs.diameter.message import Message

_ORIGINS: dict[tuple[str, str], tuple[Avp, Avp]] = {}
_SUCCESS = avp.constant(avp.u32(RESULT_CODE, 2001))


def origin(origin_host: str, origin_realm: str) -> tuple[Avp, Avp]:
    """Origin-Host and Origin-Realm, encoded once per identity (one per node: the dict stays tiny)."""
    found = _ORIGINS.get((origin_host, origin_realm))
    if found is None:
        found = (avp.constant(avp.utf8(ORIGIN_HOST, origin_host)), avp.constant(avp.utf8(ORIGIN_REALM, origin_realm)))
        if len(_ORIGINS) < 64:
            _ORIGINS[(origin_host, origin_realm)] = found
    return found


def result_of(answer: Message) -> tuple[int, int] | None:
    """(result code, vendor id) of an answer: its Result-Code with vendor 0, or its Experimental-Result's
    Experimental-Result-Code and Vendor-Id (RFC 6733 §7.6); None when it carries neither."""
    result = answer.find(RESULT_CODE)
    if result is not None:
        return result.u32, 0
    experimental = answer.find(EXPERIMENTAL_RESULT)
    if experimental is None:
        return None
    members = experimental.grouped
    code = next((a.u32 for a in members if a.code == EXPERIMENTAL_RESULT_CODE and len(a.data) == 4), None)
    vendor = next((a.u32 for a in members if a.code == VENDOR_ID and len(a.data) == 4), 0)
    return (code, vendor) if code is not None else None


def result_avps(result_code: int, vendor_id: int = 0) -> list[Avp]:
    """Result-Code, or Experimental-Result for a vendor's code (RFC 6733 §7.6)."""
    if vendor_id:
        return [avp.grouped(EXPERIMENTAL_RESULT, [avp.u32(VENDOR_ID, vendor_id),
                                                  avp.u32(EXPERIMENTAL_RESULT_CODE, result_code)])]
    return [avp.u32(RESULT_CODE, result_code)]


def error_answer(request: Message, origin_host: str, origin_realm: str, error: DiameterError) -> Message:
    """The answer to a request we refuse (RFC 6733 §7.2): Session-Id first when the request had one,
    Origin-Host/Realm, the result, Error-Message, Error-Reporting-Host and Failed-AVP. The E bit is set for
    protocol errors (3xxx) only (RFC 6733 §7.1.3)."""
    avps: list[Avp] = []
    try:
        session = request.find(SESSION_ID)
    except DiameterError:  # the AVPs themselves do not parse
        session = None
    if session is not None:
        avps.append(session)
    avps += origin(origin_host, origin_realm)
    avps += result_avps(error.result_code, error.vendor_id)
    if error.message:
        avps.append(avp.utf8(ERROR_MESSAGE, error.message, mandatory=False))
    if is_protocol_error(error.result_code):
        avps.append(avp.utf8(ERROR_REPORTING_HOST, origin_host, mandatory=False))
    if error.failed_avp is not None:
        avps.append(avp.grouped(FAILED_AVP, [error.failed_avp]))
    return request.answer(avps, error=is_protocol_error(error.result_code) and not error.vendor_id)


def make_dwr(origin_host: str, origin_realm: str, origin_state_id: int, hop_by_hop: int, end_to_end: int) -> Message:
    """RFC 6733 §5.5.1."""
    return Message(CMD_DEVICE_WATCHDOG, 0, FLAG_REQUEST, hop_by_hop, end_to_end, [
        *origin(origin_host, origin_realm), avp.u32(ORIGIN_STATE_ID, origin_state_id)])


def make_dwa(request: Message, origin_host: str, origin_realm: str, origin_state_id: int) -> Message:
    """RFC 6733 §5.5.2."""
    return request.answer([_SUCCESS, *origin(origin_host, origin_realm), avp.u32(ORIGIN_STATE_ID, origin_state_id)])


def make_dpr(origin_host: str, origin_realm: str, cause: int, hop_by_hop: int, end_to_end: int) -> Message:
    """RFC 6733 §5.4.1."""
    return Message(CMD_DISCONNECT_PEER, 0, FLAG_REQUEST, hop_by_hop, end_to_end, [
        avp.utf8(ORIGIN_HOST, origin_host), avp.utf8(ORIGIN_REALM, origin_realm), avp.u32(DISCONNECT_CAUSE, cause)])


def make_dpa(request: Message, origin_host: str, origin_realm: str) -> Message:
    """RFC 6733 §5.4.2."""
    return request.answer([avp.u32(RESULT_CODE, 2001), avp.utf8(ORIGIN_HOST, origin_host),
                           avp.utf8(ORIGIN_REALM, origin_realm)])
