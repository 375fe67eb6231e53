"""The admin API's sessions against a daemon serving RADIUS hotspots (radclient as the router's login and
accounting, a test router listening for Disconnect-Request): GET /api/v1/sessions lists the hotspot session,
POST /api/v1/sessions/{id}/terminate sends the Disconnect-Request (RFC 5176 §3) and answers with the router's
ACK."""

from __future__ import annotations

import httpx
import pytest

from tests.e2e.test_radius_enforcement import hs, online, voucher
from tests.support.admin_api import ADMIN
from tests.support.hotspot_daemon import RouterListener
from tests.support.radclient import needs_radclient

pytestmark = [pytest.mark.e2e, pytest.mark.integration, needs_radclient]

__all__ = ["hs"]


def test_list_and_disconnect_a_hotspot_session_over_http(hs):
    router = RouterListener(hs.coa_port)
    try:
        code = voucher(hs, "long")
        online(hs, code, "x-http")
        with httpx.Client(base_url=f"http://127.0.0.1:{hs.admin_port}", headers=ADMIN, timeout=15) as http:
            listed = http.get("/api/v1/sessions", params={"app": "radius"}).json()["items"]
            (s,) = [x for x in listed if x["id"] == "x-http"]
            assert s["app"] == "radius" and s["detail"]["user"] == code and s["started"]
            only = http.get("/api/v1/sessions", params={"account": s["account"]}).json()["items"]
            assert [x["id"] for x in only] == ["x-http"]
            r = http.post("/api/v1/sessions/x-http/terminate")
            assert r.status_code == 200, r.text
            assert r.json() == {"id": "x-http", "app": "radius", "peer": None, "result": "ack", "state": "closed"}
            assert router.received[-1][0] == 40  # Disconnect-Request
            r = http.post("/api/v1/sessions/nope/terminate", json={"app": "radius"})
            assert r.status_code == 409 and r.json()["type"] == "urn:ocsd:problem:terminate_refused"
    finally:
        router.close()
