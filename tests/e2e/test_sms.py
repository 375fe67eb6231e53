"""SMS billing through the real daemon (issue 18): `ocsd run` with [sms] enabled consumes Jasmin's events from the
real RabbitMQ; charges, tariffs, senders and dispatches over the admin API with roles; the rate limit answers
429 problem+json with Retry-After; a submit_sm_resp ESME_RTHROTTLED published as Jasmin does refunds the charge;
metrics `ocsd_sms_*`; a clean stop."""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from pathlib import Path

import httpx
import pytest

from tests.integration.conftest import REDIS_URL, create_database, drop_database
from tests.support.admin_api import ADMIN, Api
from tests.support.daemon_process import DaemonProcess, backends_config, free_port, write_config
from tests.support.rabbitmq import AMQP_URL, Jasmin, connect_or_skip, delete_topology, unique_config

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def is_problem(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == f"urn:ocsd:problem:{code}"


async def publish_throttled(config, message_id: str) -> None:  # type: ignore[no-untyped-def]
    connection = await connect_or_skip()
    try:
        await Jasmin(connection, config).submit_sm_resp(message_id, "ESME_RTHROTTLED")
    finally:
        await connection.close()


async def broker_or_skip() -> None:
    await (await connect_or_skip()).close()


def test_sms_over_http_and_jasmin_events(tmp_path: Path) -> None:
    asyncio.run(broker_or_skip())
    sms = unique_config()
    name = "ocsd_e2e_" + secrets.token_hex(5)
    dsn = asyncio.run(create_database(name))
    admin = free_port()
    section = f"""
[sms]
enabled = true
amqp_url = "{AMQP_URL}"
billing_exchange = "{sms.billing_exchange}"
messaging_exchange = "{sms.messaging_exchange}"
submit_queue = "{sms.submit_queue}"
dlr_queue = "{sms.dlr_queue}"
dead_letter_exchange = "{sms.dead_letter_exchange}"
default_plan = "std"
rate_limit = 0
"""
    config = write_config(tmp_path / "ocsd.toml", peers=[], diameter_port=free_port(), admin_port=admin,
                          extra=backends_config(REDIS_URL, "ocssms" + secrets.token_hex(3), dsn) + section)
    daemon = DaemonProcess(config, module="ocsd")
    try:
        daemon.start()
        daemon.wait_for("sms-consumers-started", 20)
        with httpx.Client(base_url=f"http://127.0.0.1:{admin}", timeout=10) as http:
            api = Api(config, dsn, http)
            read = api.token("read", "dash")
            r = http.post("/api/v1/sms/tariffs", headers=ADMIN,
                          json={"plan": "std", "prefix": "254", "price": 5, "currency": "EUR"})
            assert r.status_code == 200, r.text
            is_problem(http.post("/api/v1/sms/tariffs", headers=ADMIN, json={"plan": "std", "price": 1}), 422,
                       "invalid_sms")
            assert [t["match"] for t in http.get("/api/v1/sms/tariffs", headers=read).json()] == ["254"]
            acct = http.post("/api/v1/accounts", headers=ADMIN, json={"currency": "EUR"}).json()["account"]
            topup = http.post(f"/api/v1/accounts/{acct}/topup", headers=ADMIN, json={"amount": 12, "ref": "t1"})
            assert topup.status_code == 200

            charge = {"account": acct, "message_id": "m-1", "destination": "+254712345678", "parts": 2}
            is_problem(http.post("/api/v1/sms/charge", headers=read, json=charge), 403, "forbidden")
            first = http.post("/api/v1/sms/charge", headers=ADMIN, json=charge)
            assert first.status_code == 200, first.text
            assert (first.json()["price"], first.json()["balance"], first.json()["duplicate"]) == (10, 2, False)
            assert http.post("/api/v1/sms/charge", headers=ADMIN, json=charge).json()["duplicate"] is True
            is_problem(http.post("/api/v1/sms/charge", headers=ADMIN, json={**charge, "message_id": "m-2"}), 409,
                       "insufficient_funds")
            is_problem(http.post("/api/v1/sms/charge", headers=ADMIN,
                                 json={**charge, "message_id": "m-3", "sender_id": "ACME"}), 403,
                       "sender_not_approved")
            assert http.post("/api/v1/sms/senders", headers=ADMIN,
                             json={"account": acct, "sender_id": "ACME"}).status_code == 201
            ok = http.post(f"/api/v1/sms/senders/{acct}/ACME/approve", headers=ADMIN)
            assert ok.json()["status"] == "approved"

            # the rate limit: one message a second
            r = http.put(f"/api/v1/sms/accounts/{acct}", headers=ADMIN, json={"rate_limit": 1})
            assert r.json()["rate_limit"] == 1
            topup = http.post(f"/api/v1/accounts/{acct}/topup", headers=ADMIN, json={"amount": 100, "ref": "t2"})
            assert topup.status_code == 200
            one = {"account": acct, "destination": "254712345678", "sender_id": "ACME"}
            assert http.post("/api/v1/sms/charge", headers=ADMIN, json={**one, "message_id": "r-1"}).status_code == 200
            slow = http.post("/api/v1/sms/charge", headers=ADMIN, json={**one, "message_id": "r-2"})
            is_problem(slow, 429, "rate_limited")
            assert int(slow.headers["Retry-After"]) >= 1

            d = http.post("/api/v1/sms/dispatches", headers=ADMIN, json={"account": acct, "name": "promo"})
            assert d.status_code == 201 and d.json()["sent"] == 0

            # Jasmin refuses m-1 at submit: the consumer refunds it
            asyncio.run(publish_throttled(sms, "m-1"))
            deadline = time.monotonic() + 15
            while http.get("/api/v1/sms/messages/m-1", headers=read).json()["submit"] != "failed":
                assert time.monotonic() < deadline, "the submit_sm_resp was not applied"
                time.sleep(0.05)
            record = http.get("/api/v1/sms/messages/m-1", headers=read).json()
            assert (record["refunded"], record["submit_status"], record["price"]) == (True, "ESME_RTHROTTLED", 10)
            assert http.get(f"/api/v1/accounts/{acct}", headers=read).json()["balance"] == 2 + 100 - 5 + 10
            is_problem(http.get("/api/v1/sms/messages/none", headers=read), 404, "unknown_message")
            metrics = http.get("/metrics").text
            assert 'ocsd_sms_charges_total{channel="http",result="charged"} 2.0' in metrics
            assert 'ocsd_sms_charges_total{channel="http",result="rate_limited"} 1.0' in metrics
            assert 'ocsd_sms_refunds_total{status="ESME_RTHROTTLED"} 1.0' in metrics
    finally:
        assert daemon.stop() == 0
        asyncio.run(drop_database(name))
        asyncio.run(delete_topology(AMQP_URL, sms))
    assert any(line.get("event") == "sms-consumers-stopped" for line in daemon.lines)
    assert not any("amqp://" in json.dumps(line) for line in daemon.lines)  # the URL (a password) is never logged
