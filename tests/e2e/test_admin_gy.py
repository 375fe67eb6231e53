"""The admin API's sessions against a daemon running Gy, python-diameter as the PGW: GET /api/v1/sessions lists
a live Gy session (filtered by IMSI), POST /api/v1/sessions/{id}/terminate sends the ASR through the daemon's
own node (RFC 6733 §8.5, the path of `ocsd session terminate`) and answers with the ASA's Result-Code."""

from __future__ import annotations

import tomllib

import httpx
import pytest

from tests.e2e.test_gy import RG_DATA, Ocs, ocs, pgw
from tests.support.admin_api import ADMIN
from tests.support.gy_pgw import INITIAL, TERMINATION, Pgw, mscc

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

__all__ = ["ocs", "pgw"]


def admin_url(ocs: Ocs) -> str:
    with open(ocs.config, "rb") as f:
        return "http://" + tomllib.load(f)["admin"]["listen"]


def test_list_and_terminate_a_gy_session_over_http(ocs: Ocs, pgw: Pgw):
    imsi, _, account = ocs.subscriber(balance=1000)
    s = pgw.session()
    assert pgw.send(pgw.ccr(s, INITIAL, 0, imsi=imsi, mscc=[mscc(RG_DATA)])).result_code == 2001
    with httpx.Client(base_url=admin_url(ocs), headers=ADMIN, timeout=15) as http:
        listed = http.get("/api/v1/sessions", params={"imsi": imsi}).json()
        assert [(x["id"], x["app"], x["account"], x["peer"]) for x in listed["items"]] == [
            (s, "gy", account, "pgw.test")]
        assert listed["items"][0]["detail"]["reserved"]
        before = len(pgw.received)
        r = http.post(f"/api/v1/sessions/{s}/terminate")
        assert r.status_code == 200, r.text
        assert r.json() == {"id": s, "app": "gy", "peer": "pgw.test", "result": 2001, "state": "terminating"}
        asrs = [m for m in pgw.received[before:] if m.header.command_code == 274]
        assert [m.session_id for m in asrs] == [s]
        assert pgw.send(pgw.ccr(s, TERMINATION, 1, mscc=[mscc(RG_DATA, requested=False, used=10)])).result_code == 2001
        assert http.get("/api/v1/sessions", params={"account": account}).json()["items"] == []
        r = http.post(f"/api/v1/sessions/{s}/terminate", json={"app": "gy", "timeout": 2})
        assert r.status_code == 409 and r.json()["type"] == "urn:ocsd:problem:terminate_refused"
