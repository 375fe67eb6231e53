"""The admin HTTP API through HTTP against the real daemon (`ocsd run`) with real Redis and PostgreSQL (issue
16): tokens with roles made by the real CLI, refusals as RFC 9457 problem+json, every write audited."""

from __future__ import annotations

import asyncio
import json
import secrets
from typing import Any

import httpx
import pytest

from tests.support.admin_api import ADMIN, Api, api

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

__all__ = ["api"]  # the module fixture

def is_problem(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    assert r.json()["type"] == f"urn:ocsd:problem:{code}"


def test_health_routes_keep_their_meaning(api: Api):
    assert api.http.get("/healthz").json() == {"status": "ok"}
    r = api.http.get("/readyz")
    assert r.status_code == 200 and r.json()["ready"] is True
    assert api.http.get("/api/v1/status", headers=ADMIN).json()["ready"] is True
    assert api.http.get("/metrics").status_code == 200


def test_roles(api: Api):
    read = api.token("read", "dashboard")
    assert api.http.get("/api/v1/info", headers=read).status_code == 200
    is_problem(api.http.get("/api/v1/tokens", headers=read), 403, "forbidden")  # token management: admin only
    is_problem(api.http.post("/api/v1/tokens", headers=read, json={"role": "admin", "name": "x"}), 403, "forbidden")
    operator = api.token("operator", "billing")
    assert api.http.get("/api/v1/status", headers=operator).status_code == 200
    is_problem(api.http.get("/api/v1/tokens", headers=operator), 403, "forbidden")
    payments = api.token("payments", "psp")
    is_problem(api.http.get("/api/v1/info", headers=payments), 403, "forbidden")  # payments only
    is_problem(api.http.get("/api/v1/info", headers={"Authorization": "Bearer ocsd_nope"}), 401, "unauthorized")


def test_tokens_over_http_and_cli_are_hashed_revocable_and_audited(api: Api):
    r = api.http.post("/api/v1/tokens", headers=ADMIN, json={"role": "admin", "name": "portal"})
    assert r.status_code == 201, r.text
    portal = {"Authorization": f"Bearer {r.json()['token']}"}
    assert api.http.get("/api/v1/tokens", headers=portal).status_code == 200  # an admin token from the API
    is_problem(api.http.post("/api/v1/tokens", headers=ADMIN, json={"role": "admin", "name": "portal"}),
               409, "token_exists")
    is_problem(api.http.post("/api/v1/tokens", headers=ADMIN, json={"role": "root", "name": "y"}),
               422, "invalid_request")

    listed = json.loads(api.ocsd("token", "list", "--json").stdout)
    assert "portal" in {t["name"] for t in listed}
    assert all("token" not in t for t in listed)
    assert r.json()["token"] not in api.ocsd("token", "list").stdout

    assert api.http.delete("/api/v1/tokens/portal", headers=ADMIN).status_code == 204
    is_problem(api.http.get("/api/v1/info", headers=portal), 401, "unauthorized")
    is_problem(api.http.delete("/api/v1/tokens/portal", headers=ADMIN), 404, "unknown_token")

    done = api.ocsd("token", "revoke", "nobody")
    assert done.returncode != 0

    rows = api.audit()
    assert any(r["actor"] == "config" and r["action"] == "token.create" and r["target"] == "portal" for r in rows)
    writes = [(r["actor"], r["action"], r["target"], json.loads(str(r["detail"]))) for r in rows
              if str(r["action"]).startswith("api.")]
    assert ("config", "api.POST", "/api/v1/tokens", {"status": 201}) in writes
    assert ("config", "api.POST", "/api/v1/tokens", {"status": 409}) in writes
    assert ("config", "api.DELETE", "/api/v1/tokens/portal", {"status": 204}) in writes
    assert any(r["action"] == "token.revoke" and r["actor"] == "config" for r in rows)


def test_openapi_lists_the_routes(api: Api):
    spec = api.http.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    assert {"/readyz", "/api/v1/status", "/api/v1/tokens", "/api/v1/tokens/{name}"} <= set(spec["paths"])


def new_account(api: Api, currency: str = "EUR") -> str:
    r = api.http.post("/api/v1/accounts", headers=ADMIN, json={"currency": currency})
    assert r.status_code == 201, r.text
    assert r.json()["currency"] == currency
    return str(r.json()["account"])


def test_accounts_money_and_ledger(api: Api):
    acc = new_account(api)
    shown = api.http.get(f"/api/v1/accounts/{acc}", headers=ADMIN).json()
    assert shown == {"account": acc, "currency": "EUR", "balance": 0, "held": 0, "bundles": []}
    r = api.http.post(f"/api/v1/accounts/{acc}/topup", headers={**ADMIN, "Idempotency-Key": "t1"},
                      json={"amount": 1500})
    assert r.status_code == 200, r.text
    assert r.json()["balance"] == 1500 and r.json()["currency"] == "EUR" and r.json()["duplicate"] is False
    r = api.http.post(f"/api/v1/accounts/{acc}/adjust", headers=ADMIN,
                      json={"amount": -500, "reason": "goodwill reversed", "ref": "adj-1"})
    assert r.status_code == 200 and r.json()["balance"] == 1000
    r = api.http.post(f"/api/v1/accounts/{acc}/refund", headers=ADMIN, json={"amount": 250, "reason": "outage",
                                                                             "ref": "ref-1"})
    assert r.status_code == 200 and r.json()["balance"] == 1250
    is_problem(api.http.post(f"/api/v1/accounts/{acc}/adjust", headers=ADMIN,
                             json={"amount": -5000, "reason": "too much", "ref": "adj-2"}), 409, "insufficient_funds")
    is_problem(api.http.post(f"/api/v1/accounts/{acc}/topup", headers=ADMIN, json={"amount": 1}),
               422, "invalid_request")  # neither Idempotency-Key nor ref
    is_problem(api.http.post(f"/api/v1/accounts/{acc}/topup", headers=ADMIN, json={"amount": 0, "ref": "z"}),
               422, "invalid_request")
    is_problem(api.http.get("/api/v1/accounts/nobody-here", headers=ADMIN), 404, "unknown_account")
    is_problem(api.http.post("/api/v1/accounts/nobody-here/topup", headers=ADMIN, json={"amount": 5, "ref": "x"}),
               404, "unknown_account")
    is_problem(api.http.post(f"/api/v1/accounts/{acc}/bundles", headers=ADMIN, json={"bundle": "NOPE", "ref": "b"}),
               404, "unknown_bundle")
    ledger = api.http.get(f"/api/v1/accounts/{acc}/ledger", headers=ADMIN).json()
    assert [(e["kind"], e["amount"], e["balance_after"]) for e in ledger] == [
        ("refund", 250, 1250), ("adjust", -500, 1000), ("topup", 1500, 1500)]
    assert api.http.get("/api/v1/bundles", headers=ADMIN).status_code == 200
    assert api.http.get("/api/v1/tariffs", headers=ADMIN).status_code == 200


def test_a_read_token_cannot_top_up(api: Api):
    acc = new_account(api)
    read = api.token("read", "reader-2")
    assert api.http.get(f"/api/v1/accounts/{acc}", headers=read).status_code == 200
    r = api.http.post(f"/api/v1/accounts/{acc}/topup", headers={**read, "Idempotency-Key": "r1"},
                      json={"amount": 10})
    is_problem(r, 403, "forbidden")
    assert api.http.get(f"/api/v1/accounts/{acc}", headers=read).json()["balance"] == 0
    operator = api.token("operator", "billing-2")
    r = api.http.post(f"/api/v1/accounts/{acc}/topup", headers={**operator, "Idempotency-Key": "o1"},
                      json={"amount": 10})
    assert r.status_code == 200 and r.json()["balance"] == 10


def test_idempotent_top_up_under_20_concurrent_repeats_credits_once(api: Api):
    acc = new_account(api)
    headers = {**ADMIN, "Idempotency-Key": "pay-" + secrets.token_hex(4)}

    async def burst() -> list[httpx.Response]:
        async with httpx.AsyncClient(base_url=api.http.base_url, timeout=10) as c:
            return list(await asyncio.gather(*(c.post(f"/api/v1/accounts/{acc}/topup", headers=headers,
                                                      json={"amount": 700}) for _ in range(20))))

    answers = asyncio.run(burst())
    assert all(r.status_code == 200 for r in answers), [r.text for r in answers]
    assert len({r.text for r in answers}) == 1  # every repeat gets the first answer
    assert answers[0].json()["balance"] == 700 and answers[0].json()["duplicate"] is False
    assert api.http.get(f"/api/v1/accounts/{acc}", headers=ADMIN).json()["balance"] == 700
    again = api.http.post(f"/api/v1/accounts/{acc}/topup", headers=headers, json={"amount": 700})
    assert again.text == answers[0].text
    is_problem(api.http.post(f"/api/v1/accounts/{acc}/topup", headers=headers, json={"amount": 701}),
               422, "idempotency_key_reused")
    assert api.http.get(f"/api/v1/accounts/{acc}", headers=ADMIN).json()["balance"] == 700
    assert len(api.http.get(f"/api/v1/accounts/{acc}/ledger", headers=ADMIN).json()) == 1


K = "465b5ce8b199b49faa5f0a2ee238a6bc"
OPC = "cd63cb71954a9f4e48a5994e37a02baf"


def test_subscribers(api: Api):
    imsi, msisdn = "001010000012345", "15550012345"
    r = api.http.post("/api/v1/subscribers", headers=ADMIN, json={"imsi": imsi, "msisdn": msisdn, "k": K, "opc": OPC})
    assert r.status_code == 201, r.text
    account = r.json()["account"]
    is_problem(api.http.post("/api/v1/subscribers", headers=ADMIN,
                             json={"imsi": imsi, "msisdn": "15550099999", "k": K, "opc": OPC}),
               409, "subscriber_exists")
    is_problem(api.http.post("/api/v1/subscribers", headers=ADMIN,
                             json={"imsi": "001010000012346", "msisdn": "15550012346", "k": "zz", "opc": OPC}),
               422, "invalid_request")
    shown = api.http.get(f"/api/v1/subscribers/{msisdn}", headers=ADMIN).json()
    assert shown["imsi"] == imsi and shown["account"] == account and "k" not in shown and "opc" not in shown
    page = api.http.get("/api/v1/subscribers", headers=ADMIN, params={"limit": 10}).json()
    assert imsi in {s["imsi"] for s in page}
    r = api.http.patch(f"/api/v1/subscribers/{imsi}", headers=ADMIN, json={"status": "blocked"})
    assert r.status_code == 200 and "status" in r.json()["changed"], r.text
    assert api.http.get("/api/v1/subscribers", headers=ADMIN, params={"status": "blocked"}).json()[0]["imsi"] == imsi
    api.http.post(f"/api/v1/accounts/{account}/topup", headers=ADMIN, json={"amount": 5, "ref": "s1"})
    is_problem(api.http.delete(f"/api/v1/subscribers/{imsi}", headers=ADMIN), 409, "subscriber_exists")
    assert api.http.delete(f"/api/v1/subscribers/{imsi}", headers=ADMIN, params={"force": "true"}).status_code == 204
    is_problem(api.http.get(f"/api/v1/subscribers/{imsi}", headers=ADMIN), 404, "unknown_subscriber")


def test_hotspot_vouchers_as_json_and_csv(api: Api):
    done = api.ocsd("hotspot", "package", "create", "--code", "1h", "--name", "One hour", "--time-seconds", "3600",
                    "--rate-limit", "2M/4M", "--validity-hours", "24", "--price", "100")
    assert done.returncode == 0, done.stderr
    assert "1h" in {p["code"] for p in api.http.get("/api/v1/hotspot/packages", headers=ADMIN).json()}
    r = api.http.post("/api/v1/hotspot/vouchers", headers=ADMIN, json={"package": "1h", "count": 3})
    assert r.status_code == 201 and r.json()["count"] == 3 and len(set(r.json()["codes"])) == 3
    r = api.http.post("/api/v1/hotspot/vouchers", headers=ADMIN, params={"format": "csv"},
                      json={"package": "1h", "count": 2})
    assert r.status_code == 201 and r.headers["content-type"].startswith("text/csv")
    lines = r.text.strip().splitlines()
    assert lines[0] == "code,package" and len(lines) == 3 and all(line.endswith(",1h") for line in lines[1:])
    is_problem(api.http.post("/api/v1/hotspot/vouchers", headers=ADMIN, json={"package": "nope", "count": 1}),
               404, "unknown_package")


async def next_events(lines: Any, n: int) -> list[dict[str, Any]]:
    """The next `n` events of an SSE stream (comment lines skipped)."""
    events: list[dict[str, Any]] = []
    current: dict[str, Any] = {}
    async with asyncio.timeout(15):
        async for line in lines:
            if line == "":
                if "data" in current:
                    events.append(current)
                    if len(events) == n:
                        return events
                current = {}
            elif not line.startswith(":"):
                field, _, value = line.partition(": ")
                current[field] = json.loads(value) if field == "data" else value
    return events


def test_events_balance_changed_after_top_up_and_resume_after_a_drop(api: Api):
    acc = new_account(api)

    async def scenario() -> None:
        async with httpx.AsyncClient(base_url=api.http.base_url, timeout=15) as c:
            params = {"account": acc, "type": "balance.changed"}
            async with c.stream("GET", "/api/v1/events", headers=ADMIN, params=params) as r:
                assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
                lines = r.aiter_lines()
                await asyncio.sleep(0.3)  # the stream is open (it starts at the latest event)
                t = await c.post(f"/api/v1/accounts/{acc}/topup", headers=ADMIN, json={"amount": 100, "ref": "e1"})
                assert t.status_code == 200
                (first,) = await next_events(lines, 1)
            assert first["event"] == "balance.changed"
            assert first["data"]["account"] == acc and first["data"]["balance"] == 100
            # dropped; two changes happen meanwhile (and one of another account, filtered out)
            for amount, ref in ((50, "e2"), (25, "e3")):
                await c.post(f"/api/v1/accounts/{acc}/topup", headers=ADMIN, json={"amount": amount, "ref": ref})
            other = new_account(api)
            await c.post(f"/api/v1/accounts/{other}/topup", headers=ADMIN, json={"amount": 1, "ref": "o"})
            async with c.stream("GET", "/api/v1/events", params=params,
                                headers={**ADMIN, "Last-Event-ID": first["id"]}) as r:
                resumed = await next_events(r.aiter_lines(), 2)
            assert [e["data"]["balance"] for e in resumed] == [150, 175]
            assert int(first["id"]) < int(resumed[0]["id"]) < int(resumed[1]["id"])

    asyncio.run(scenario())
