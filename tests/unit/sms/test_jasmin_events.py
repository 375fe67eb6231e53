"""Jasmin's events decoded (pure), from the samples in tests/vectors/jasmin/events.json (their source is named
there): Jasmin's own contents and the JSON shapes; pickles and malformed bodies refused."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import pytest

from ocs.sms.events import (
    DeliveryReport,
    Malformed,
    PickleRefused,
    SubmitResult,
    parse_dlr,
    parse_submit_sm_resp,
)

VECTORS = json.loads((Path(__file__).parents[2] / "vectors" / "jasmin" / "events.json").read_text())


def sample(group: str, name: str) -> dict[str, Any]:
    return next(s for s in VECTORS[group] if s["name"] == name)


def native(name: str, message_id: str = "m-1") -> tuple[str, bytes, str | None, dict[str, Any]]:
    s = sample("native", name)
    props = s["properties"]
    return (s["routing_key"], s["body"].encode(), props["message_id"].replace("{message_id}", message_id),
            props["headers"])


def as_json(name: str, message_id: str = "m-1") -> tuple[str, bytes]:
    s = sample("json", name)
    return s["routing_key"], json.dumps(s["body"]).replace("{message_id}", message_id).encode()


def test_native_contents() -> None:
    _, body, mid, headers = native("SubmitSmRespBillContent")
    assert parse_submit_sm_resp(body, None, mid, headers) == SubmitResult(mid, "ESME_ROK", None, "jasmin-user-1")
    rk, body, mid, headers = native("DLR submit_sm_resp ESME_ROK")
    assert parse_dlr(rk, body, None, mid, headers) == SubmitResult("m-1", "ESME_ROK", "2A0F61")
    rk, body, mid, headers = native("DLR submit_sm_resp ESME_RTHROTTLED")
    assert parse_dlr(rk, body, None, mid, headers) == SubmitResult("m-1", "ESME_RTHROTTLED", None)
    rk, body, mid, headers = native("DLR deliver_sm DELIVRD")
    dlr = parse_dlr(rk, body, None, mid, headers)
    assert isinstance(dlr, DeliveryReport)
    assert (dlr.message_id, dlr.smpp_msgid, dlr.state, dlr.details["stat"], dlr.details["cid"]) == (
        None, "2A0F61", "delivered", "DELIVRD", "smsc-ke")


def test_json_shapes() -> None:
    _, body = as_json("submit_sm_resp ESME_ROK")
    assert parse_submit_sm_resp(body, "application/json", None, {}) == SubmitResult(
        "m-1", "ESME_ROK", None, "jasmin-user-1", "smsc-ke")
    _, body = as_json("submit_sm_resp ESME_RTHROTTLED")
    assert not parse_submit_sm_resp(body, None, None, {}).accepted
    rk, body = as_json("DLR UNDELIV")
    dlr = parse_dlr(rk, body, "application/json", None, {})
    assert isinstance(dlr, DeliveryReport)
    assert (dlr.message_id, dlr.state, dlr.refundable) == ("m-1", "failed", True)


@pytest.mark.parametrize("status,state", [("DELIVRD", "delivered"), ("EXPIRED", "expired"), ("DELETED", "failed"),
                                          ("UNDELIV", "failed"), ("UNKNOWN", "failed"), ("REJECTD", "rejected"),
                                          ("ACCEPTD", "pending")])
def test_dlr_status_mapping(status: str, state: str) -> None:
    body = json.dumps({"message_id": "m", "status": status, "pdu_type": "deliver_sm"}).encode()
    dlr = parse_dlr("dlr.deliver_sm", body, None, None, {})
    assert isinstance(dlr, DeliveryReport) and dlr.state == state


def test_pickles_and_garbage_are_refused() -> None:
    pickled = pickle.dumps({"message_id": "m", "status": "ESME_ROK"}, protocol=4)
    with pytest.raises(PickleRefused):
        parse_submit_sm_resp(pickled, None, "m", {"amount": "1"})
    with pytest.raises(PickleRefused):
        parse_dlr("dlr.deliver_sm", b"DELIVRD", "application/x-python-pickle", "m", {})
    for body in (b"{not json", b"[1, 2]", b'{"status": "ESME_ROK"}', b'{"message_id": "m", "status": "OK"}'):
        with pytest.raises(Malformed):
            parse_submit_sm_resp(body, "application/json", None, {})
    with pytest.raises(Malformed):
        parse_submit_sm_resp(b"hello", None, "m", {})  # neither JSON nor Jasmin's bill content
    with pytest.raises(Malformed):
        parse_dlr("dlr.deliver_sm", b"NOSUCHS", None, "m", {})
    with pytest.raises(Malformed):
        parse_dlr("dlr.other", b"DELIVRD", None, "m", {})
