"""Jasmin's RabbitMQ events, decoded (issue 18 point 3). Pure: takes the AMQP message's parts, returns a value.

Two shapes are accepted, both as published to the exchanges Jasmin declares (topic exchanges `billing` and
`messaging`, jasmin/routing/router.py and jasmin/managers/clients.py):

1. Jasmin's own contents (jasmin/managers/content.py, tests/vectors/jasmin/*.json name the lines):
   - `SubmitSmRespBillContent(bid, uid, amount)`, routing key `bill_request.submit_sm_resp.<uid>` on `billing`:
     body = bid, properties `message-id` = bid, headers `user-id`, `amount`. Jasmin publishes it only for a
     submit_sm_resp with ESME_ROK (jasmin/managers/listeners.py `submit_sm_resp_event`), so it finalizes.
   - `DLR(pdu_type, msgid, status, smpp_msgid, cid, dlr_details)` on `messaging`: routing key
     `dlr.submit_sm_resp` (body = the ESME_* status name, `message-id` = Jasmin's queue msgid, header
     `smpp_msgid` on ESME_ROK) or `dlr.deliver_sm` (body = the receipt's `stat`, `message-id` = the SMSC's
     message id, headers `cid` and `dlr_<field>` of the receipt, SMPP 3.4 Appendix B).
2. The JSON documented for billing integrations (content type application/json, or a body starting with "{"):
   submit_sm_resp `{"bid", "user": {"uid"}, "amounts", "message_id", "connector_id", "status"}` and DLR
   `{"message_id", "status", "pdu_type", "smpp_msgid", "dlr_details"}`.

Jasmin's pickled contents (a body starting with the pickle PROTO opcode 0x80, or a pickle content type) are
refused: unpickling what a broker hands us runs arbitrary code (Python docs, pickle module warning).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# SMPP 3.4 Appendix B / Jasmin's message_state_map: the final states of a delivery receipt and ACCEPTD
DELIVERY_STATES: dict[str, str] = {
    "DELIVRD": "delivered", "EXPIRED": "expired", "DELETED": "failed", "UNDELIV": "failed", "UNKNOWN": "failed",
    "REJECTD": "rejected", "ACCEPTD": "pending", "ENROUTE": "pending",
}
REFUNDABLE = frozenset({"UNDELIV", "REJECTD"})  # refunded when the account's policy says so
ESME_ROK = "ESME_ROK"
PICKLE_TYPES = frozenset({"application/python-pickle", "application/x-python-pickle", "application/pickle"})


class Malformed(ValueError):
    """Not an event we can read: dead-lettered, never requeued."""


class PickleRefused(Malformed):
    """A pickled Jasmin content: refused (untrusted deserialisation)."""


@dataclass(frozen=True, slots=True)
class SubmitResult:
    """The SMSC's submit_sm_resp for one message: ESME_ROK finalizes its charge, any other status refunds it."""

    message_id: str
    status: str
    smpp_msgid: str | None = None
    uid: str | None = None
    connector_id: str | None = None

    @property
    def accepted(self) -> bool:
        return self.status == ESME_ROK


@dataclass(frozen=True, slots=True)
class DeliveryReport:
    """A delivery receipt. `message_id` is ours when known (JSON), else None and `smpp_msgid` finds it."""

    message_id: str | None
    status: str
    smpp_msgid: str | None
    details: Mapping[str, str]

    @property
    def state(self) -> str:
        return DELIVERY_STATES[self.status]

    @property
    def refundable(self) -> bool:
        return self.status in REFUNDABLE


def smpp_id(value: object) -> str:
    """Jasmin's mapping key of an SMSC message id: upper case, leading zeros dropped (content.py DLR)."""
    text = value.decode() if isinstance(value, bytes) else str(value)
    return text.upper().lstrip("0")


def _text(value: object, what: str) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    if not isinstance(value, str | int) or isinstance(value, bool) or str(value) == "":
        raise Malformed(f"{what} missing or not a string")
    text = str(value)
    if len(text) > 128:
        raise Malformed(f"{what} longer than 128 characters")
    return text


def _opt(value: object) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return str(value)


def _json(body: bytes, content_type: str | None) -> dict[str, Any] | None:
    if (content_type or "") in PICKLE_TYPES or body[:1] == b"\x80":
        raise PickleRefused("pickled content refused (untrusted deserialisation)")
    if content_type == "application/json" or body.lstrip()[:1] == b"{":
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError) as e:
            raise Malformed(f"invalid JSON: {e}") from None
        if not isinstance(doc, dict):
            raise Malformed("JSON body is not an object")
        return doc
    return None


def parse_submit_sm_resp(body: bytes, content_type: str | None, message_id: str | None,
                         headers: Mapping[str, object]) -> SubmitResult:
    """An event of `bill_request.submit_sm_resp.#` (billing exchange)."""
    doc = _json(body, content_type)
    if doc is not None:
        user = doc.get("user")
        uid = user.get("uid") if isinstance(user, dict) else None
        status = _text(doc.get("status"), "status")
        if not status.startswith("ESME_"):
            raise Malformed(f"status {status!r} is not an ESME_* command status")
        smpp = _opt(doc.get("smpp_msgid"))
        return SubmitResult(_text(doc.get("message_id"), "message_id"), status, smpp_id(smpp) if smpp else None,
                            _opt(uid), _opt(doc.get("connector_id")))
    # SubmitSmRespBillContent: published for ESME_ROK only; message-id is the bill id
    if "amount" not in headers and "user-id" not in headers:
        raise Malformed("neither JSON nor a Jasmin SubmitSmRespBillContent")
    mid = message_id or (body.decode("utf-8", "replace") if body else None)
    return SubmitResult(_text(mid, "message-id"), ESME_ROK, None, _opt(headers.get("user-id")))


def parse_dlr(routing_key: str, body: bytes, content_type: str | None, message_id: str | None,
              headers: Mapping[str, object]) -> SubmitResult | DeliveryReport:
    """An event of `dlr.#` (messaging exchange): a submit_sm_resp outcome or a delivery receipt."""
    doc = _json(body, content_type)
    if doc is not None:
        status = _text(doc.get("status"), "status")
        pdu_type = str(doc.get("pdu_type") or "")
        if status.startswith("ESME_") or pdu_type == "submit_sm_resp":
            smpp = _opt(doc.get("smpp_msgid"))
            return SubmitResult(_text(doc.get("message_id"), "message_id"), status, smpp_id(smpp) if smpp else None,
                                None, _opt(doc.get("connector_id")))
        details = doc.get("dlr_details") or {}
        if not isinstance(details, dict):
            raise Malformed("dlr_details is not an object")
        if status not in DELIVERY_STATES:
            raise Malformed(f"unknown delivery status {status!r}")
        smpp = _opt(doc.get("smpp_msgid"))
        return DeliveryReport(_opt(doc.get("message_id")), status, smpp_id(smpp) if smpp else None,
                              {str(k): str(v) for k, v in details.items()})
    status = _text(body, "status")
    if routing_key == "dlr.submit_sm_resp" or headers.get("type") == "submit_sm_resp":
        smpp = _opt(headers.get("smpp_msgid"))
        return SubmitResult(_text(message_id, "message-id"), status, smpp_id(smpp) if smpp else None)
    if routing_key == "dlr.deliver_sm" or headers.get("type") in ("deliver_sm", "data_sm"):
        if status not in DELIVERY_STATES:
            raise Malformed(f"unknown delivery status {status!r}")
        details = {k[4:]: str(_opt(v) or "") for k, v in headers.items() if k.startswith("dlr_")}
        if "cid" in headers:
            details["cid"] = str(_opt(headers["cid"]) or "")
        return DeliveryReport(None, status, smpp_id(_text(message_id, "message-id")), details)
    raise Malformed(f"routing key {routing_key!r}: not a Jasmin DLR")


__all__ = ["DELIVERY_STATES", "ESME_ROK", "REFUNDABLE", "DeliveryReport", "Malformed", "PickleRefused",
           "SubmitResult", "parse_dlr", "parse_submit_sm_resp", "smpp_id"]
