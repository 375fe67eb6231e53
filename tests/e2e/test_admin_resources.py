"""The admin API's catalog, gift, ledger/CDR, session and event resources through HTTP against the real daemon
with real Redis and PostgreSQL (issue 16 points 1 and 5): happy paths, refusals as problem+json, roles, audit.
Rows that the daemon writes behind (CDRs, hotspot session records, ledger usage rows) are inserted into
PostgreSQL as the writers insert them, so the triggers of migration 016 run as they do in production."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest

from tests.e2e.test_admin_api import is_problem, new_account, next_events
from tests.support.admin_api import ADMIN, Api, api

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

__all__ = ["api"]


def sql(api: Api, query: str, *args: Any) -> list[asyncpg.Record]:
    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(api.dsn)
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()
    return asyncio.run(run())


BUNDLE = {"code": "D1G", "name": "1 GB", "kind": "data", "data_octets": 10**9, "validity_days": 30, "priority": 1,
          "price": 500, "currency": "EUR"}


def test_bundles_create_update_retire_and_gift(api: Api):
    r = api.http.post("/api/v1/bundles", headers=ADMIN, json=BUNDLE)
    assert r.status_code == 201, r.text
    assert r.json()["currency"] == "EUR" and r.json()["price"] == 500
    is_problem(api.http.post("/api/v1/bundles", headers=ADMIN, json=BUNDLE), 409, "bundle_exists")
    is_problem(api.http.post("/api/v1/bundles", headers=ADMIN, json={**BUNDLE, "code": "X", "currency": "ZZZ"}),
               422, "invalid_currency")
    read = api.token("read", "catalog-reader")
    is_problem(api.http.post("/api/v1/bundles", headers=read, json={**BUNDLE, "code": "R"}), 403, "forbidden")

    r = api.http.patch("/api/v1/bundles/D1G", headers=ADMIN, json={"price": 400, "name": "1 GB promo"})
    assert r.status_code == 200 and r.json()["changed"] == {"price": {"from": 500, "to": 400},
                                                            "name": {"from": "1 GB", "to": "1 GB promo"}}
    payer, friend = new_account(api), new_account(api)
    api.http.post(f"/api/v1/accounts/{payer}/topup", headers=ADMIN, json={"amount": 1000, "ref": "g0"})
    bought = api.http.post(f"/api/v1/accounts/{payer}/bundles", headers=ADMIN, json={"bundle": "D1G", "ref": "b1"})
    assert bought.json()["balance"] == 600  # the new price, at once in this daemon

    key = {**ADMIN, "Idempotency-Key": "gift-1"}
    gift = api.http.post(f"/api/v1/accounts/{payer}/gifts", headers=key, json={"bundle": "D1G", "to_account": friend})
    assert gift.status_code == 200, gift.text
    assert gift.json()["sender_balance"] == 200 and gift.json()["recipient"] == friend
    again = api.http.post(f"/api/v1/accounts/{payer}/gifts", headers=key, json={"bundle": "D1G", "to_account": friend})
    assert again.text == gift.text
    is_problem(api.http.post(f"/api/v1/accounts/{payer}/gifts", headers=key,
                             json={"bundle": "D1G", "to_account": payer}), 422, "idempotency_key_reused")
    is_problem(api.http.post(f"/api/v1/accounts/{payer}/gifts", headers=ADMIN,
                             json={"bundle": "D1G", "to_account": friend, "ref": "g2"}), 409, "insufficient_funds")
    is_problem(api.http.post(f"/api/v1/accounts/{payer}/gifts", headers=ADMIN, json={"bundle": "D1G", "ref": "g3"}),
               422, "invalid_request")
    assert [b["bundle"] for b in api.http.get(f"/api/v1/accounts/{friend}", headers=ADMIN).json()["bundles"]] == [
        "D1G"]

    assert api.http.delete("/api/v1/bundles/D1G", headers=ADMIN).status_code == 204
    assert "D1G" not in {b["code"] for b in api.http.get("/api/v1/bundles", headers=ADMIN).json()}
    is_problem(api.http.delete("/api/v1/bundles/D1G", headers=ADMIN), 404, "unknown_bundle")
    is_problem(api.http.patch("/api/v1/bundles/D1G", headers=ADMIN, json={"price": 1}), 404, "unknown_bundle")
    actions = {(r["action"], r["target"]) for r in api.audit()}
    assert {("bundle.update", "D1G"), ("bundle.retire", "D1G"), ("api.PATCH", "/api/v1/bundles/D1G"),
            ("api.POST", f"/api/v1/accounts/{payer}/gifts")} <= actions


def test_tariffs_set_roaming_and_delete(api: Api):
    is_problem(api.http.put("/api/v1/tariffs/77", headers=ADMIN,
                            json={"unit": "octets", "unit_size": 1000, "price": 2, "roaming": True}),
               409, "catalog_conflict")  # a roaming price needs the home price first
    r = api.http.put("/api/v1/tariffs/77", headers=ADMIN, json={"unit": "octets", "unit_size": 1000, "price": 2})
    assert r.status_code == 200 and (r.json()["price_home"], r.json()["price_roaming"]) == (2, 2), r.text
    r = api.http.put("/api/v1/tariffs/77", headers=ADMIN,
                     json={"unit": "octets", "unit_size": 1000, "price": 9, "roaming": True})
    assert (r.json()["price_home"], r.json()["price_roaming"]) == (2, 9)
    r = api.http.put("/api/v1/tariffs/77", headers=ADMIN, json={"unit": "seconds", "unit_size": 60, "price": 3})
    assert r.json()["price_roaming"] == 3 and r.json()["notes"]  # another unit resets the roaming price
    assert 77 in {t["rating_group"] for t in api.http.get("/api/v1/tariffs", headers=ADMIN).json()}
    r = api.http.delete("/api/v1/tariffs/77", headers=ADMIN)
    assert r.status_code == 200 and r.json()["was"]["unit"] == "seconds"
    is_problem(api.http.delete("/api/v1/tariffs/77", headers=ADMIN), 404, "unknown_tariff")
    is_problem(api.http.put("/api/v1/tariffs/78", headers=ADMIN, json={"unit": "litres", "unit_size": 1, "price": 1}),
               422, "invalid_request")


def test_hotspot_packages_and_plans(api: Api):
    pkg = {"code": "2h", "name": "Two hours", "time_seconds": 7200, "rate_limit": "2M/4M", "validity_hours": 24,
           "price": 150}
    r = api.http.post("/api/v1/hotspot/packages", headers=ADMIN, json=pkg)
    assert r.status_code == 201 and r.json()["devices"] == 1 and r.json()["data_octets"] is None, r.text
    is_problem(api.http.post("/api/v1/hotspot/packages", headers=ADMIN, json=pkg), 409, "package_exists")
    is_problem(api.http.post("/api/v1/hotspot/packages", headers=ADMIN, json={**pkg, "code": "3h",
                                                                              "rate_limit": "fast"}),
               422, "invalid_request")
    r = api.http.patch("/api/v1/hotspot/packages/2h", headers=ADMIN, json={"price": 120, "devices": 2})
    assert r.json()["changed"] == {"price": {"from": 150, "to": 120}, "devices": {"from": 1, "to": 2}}
    shown = {p["code"]: p for p in api.http.get("/api/v1/hotspot/packages", headers=ADMIN).json()}["2h"]
    assert (shown["price"], shown["devices"]) == (120, 2)
    is_problem(api.http.patch("/api/v1/hotspot/packages/none", headers=ADMIN, json={"price": 1}),
               404, "unknown_package")

    plan = {"code": "gold", "name": "Gold", "ambr_ul": 10_000_000, "ambr_dl": 50_000_000, "qci": 9, "arp": 8,
            "rules": [{"name": "video", "flows": ["permit out ip from any to any"], "qci": 6, "rating_group": 30}],
            "throttle_ul": 64_000, "throttle_dl": 128_000}
    r = api.http.post("/api/v1/plans", headers=ADMIN, json=plan)
    assert r.status_code == 201, r.text
    is_problem(api.http.post("/api/v1/plans", headers=ADMIN, json=plan), 409, "plan_exists")
    is_problem(api.http.post("/api/v1/plans", headers=ADMIN, json={**plan, "code": "bad", "throttle_dl": None}),
               422, "invalid_request")  # a throttle needs both directions (ocs.policy.plans)
    cli = json.loads(api.ocsd("plan", "show", "gold", "--json").stdout)
    assert cli == api.http.get("/api/v1/plans/gold", headers=ADMIN).json()  # one service below both
    r = api.http.put("/api/v1/plans/gold", headers=ADMIN, json={**plan, "code": None, "ambr_dl": 60_000_000})
    assert r.status_code == 200 and r.json()["ambr_dl"] == 60_000_000, r.text
    assert [p["code"] for p in api.http.get("/api/v1/plans", headers=ADMIN).json()] == ["gold"]
    assert api.http.delete("/api/v1/plans/gold", headers=ADMIN).status_code == 204
    is_problem(api.http.get("/api/v1/plans/gold", headers=ADMIN), 404, "unknown_plan")
    is_problem(api.http.delete("/api/v1/plans/gold", headers=ADMIN), 404, "unknown_plan")


def test_ledger_and_cdrs_paged_and_filtered(api: Api):
    acc = new_account(api)
    for i in range(3):
        api.http.post(f"/api/v1/accounts/{acc}/topup", headers=ADMIN, json={"amount": 10 + i, "ref": f"l{i}"})

    def ledger(**params: Any) -> dict[str, Any]:
        r = api.http.get("/api/v1/ledger", headers=ADMIN, params={"account": acc, **params})
        assert r.status_code == 200, r.text
        return dict(r.json())

    async def written() -> None:  # the ledger writer moves the entries within a second or so
        async with asyncio.timeout(10):
            while len(ledger()["items"]) < 3:
                await asyncio.sleep(0.1)
    asyncio.run(written())
    first = ledger(limit=2)
    assert [e["amount"] for e in first["items"]] == [12, 11] and first["next"]
    rest = ledger(limit=2, cursor=first["next"])
    assert [e["amount"] for e in rest["items"]] == [10] and rest["next"] is None
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert ledger(since=later)["items"] == [] and len(ledger(until=later)["items"]) == 3
    per_account = api.http.get(f"/api/v1/accounts/{acc}/ledger", headers=ADMIN, params={"since": later})
    assert per_account.status_code == 200 and per_account.json() == []
    is_problem(api.http.get("/api/v1/ledger", headers=ADMIN, params={"cursor": "x"}), 422, "invalid_cursor")
    is_problem(api.http.get("/api/v1/ledger", headers=ADMIN, params={"since": "2026-01-01T00:00:00"}),
               422, "invalid_request")  # RFC 3339 needs the offset

    t0 = datetime(2026, 1, 2, 10, 0, tzinfo=UTC)
    sql(api, "INSERT INTO gy_cdrs (record_id, account_id, imsi, msisdn, peer, started_at, stopped_at, cause, usage) "
             "VALUES ('gy;1', $1, '001010000000001', '', 'pgw', $2, $3, 'CCR-T', '[]'), "
             "('gy;2', $1, '001010000000001', '', 'pgw', $4, $5, 'CCR-T', '[{\"rg\":1,\"used\":5}]')",
        acc, t0, t0 + timedelta(minutes=5), t0 + timedelta(minutes=10), t0 + timedelta(minutes=11))
    sql(api, "INSERT INTO hotspot_sessions (account_id, acct_session_id, client, user_name, started_at, stopped_at, "
             "input_octets, output_octets, session_time, terminate_cause) VALUES ($1, 'hs1', 'router', 'V1', $2, $3, "
             "10, 20, 60, 'User-Request')", acc, t0 + timedelta(minutes=20), t0 + timedelta(minutes=21))
    page = api.http.get("/api/v1/cdrs", headers=ADMIN, params={"account": acc, "limit": 2}).json()
    assert [(c["app"], c["session"]) for c in page["items"]] == [("radius", "hs1"), ("gy", "gy;2")]
    assert page["items"][0]["radius"]["output_octets"] == 20 and page["items"][1]["usage"] == [{"rg": 1, "used": 5}]
    rest = api.http.get("/api/v1/cdrs", headers=ADMIN, params={"account": acc, "cursor": page["next"]}).json()
    assert [c["session"] for c in rest["items"]] == ["gy;1"] and rest["next"] is None
    window = api.http.get("/api/v1/cdrs", headers=ADMIN, params={
        "account": acc, "since": (t0 + timedelta(minutes=1)).isoformat(),
        "until": (t0 + timedelta(minutes=15)).isoformat()}).json()
    assert [c["session"] for c in window["items"]] == ["gy;2"]


def test_sessions_list_and_terminate_refusals(api: Api):
    r = api.http.get("/api/v1/sessions", headers=ADMIN)
    assert r.status_code == 200 and r.json() == {"items": [], "next": None}
    is_problem(api.http.get("/api/v1/sessions", headers=ADMIN, params={"imsi": "001010000000009",
                                                                       "msisdn": "15550000009"}),
               422, "invalid_request")
    is_problem(api.http.get("/api/v1/sessions", headers=ADMIN, params={"msisdn": "15550000009"}),
               404, "unknown_subscriber")
    is_problem(api.http.post("/api/v1/sessions/nope/terminate", headers=ADMIN), 404, "unknown_session")
    is_problem(api.http.post("/api/v1/sessions/nope/terminate", headers=ADMIN, json={"app": "gy"}),
               409, "terminate_refused")  # this daemon runs no Gy (tests/e2e/test_admin_gy.py has the ASR)
    read = api.token("read", "sessions-reader")
    is_problem(api.http.post("/api/v1/sessions/nope/terminate", headers=read), 403, "forbidden")


def test_events_bundle_used_up_sessions_and_payment(api: Api):
    acc = new_account(api)

    async def scenario() -> list[dict[str, Any]]:
        async with httpx.AsyncClient(base_url=api.http.base_url, timeout=15) as c:
            params = [("account", acc), ("type", "bundle.used_up"), ("type", "session.started"),
                      ("type", "session.ended"), ("type", "payment.confirmed")]
            async with c.stream("GET", "/api/v1/events", headers=ADMIN, params=params) as r:
                lines = r.aiter_lines()
                await asyncio.sleep(0.3)
                conn = await asyncpg.connect(api.dsn)
                try:
                    now = datetime.now(UTC)
                    # an activation then a usage row that empties it (the shapes of activate.lua / _lib.lua)
                    await conn.execute(
                        "INSERT INTO ledger (entry_id, account_id, seq, kind, amount, balance_after, ref, detail, "
                        "created_at) VALUES ($1, $2, 1, 'gift_in', 0, 0, 'x1', $3::jsonb, $4), "
                        "($5, $2, 2, 'usage', 0, 0, 's1', $6::jsonb, $4)",
                        f"{acc}:1", acc, json.dumps({"bundle": {"id": 1, "code": "D1", "d": 100, "v": 0, "s": 0,
                                                                "r": 0}}),
                        now, f"{acc}:2", json.dumps({"rg": 1, "units": 100, "bundles": [[1, "d", -100]]}))
                    for _ in range(2):  # the CDR writer's retry inserts nothing twice, so no event twice
                        await conn.execute(
                            "INSERT INTO gy_cdrs (record_id, account_id, peer, started_at, stopped_at, cause, usage) "
                            "VALUES ('ev;1', $1, 'pgw', $2, $3, 'CCR-T', '[]') ON CONFLICT DO NOTHING", acc,
                            now - timedelta(seconds=30), now)
                    from ocs.admin.events import emit_event
                    await emit_event(conn, "payment.confirmed", acc, {"payment": "p-1", "amount": 1500,
                                                                      "currency": "EUR"})
                finally:
                    await conn.close()
                return await next_events(lines, 4)

    events = asyncio.run(scenario())
    assert [e["event"] for e in events] == ["bundle.used_up", "session.started", "session.ended",
                                            "payment.confirmed"]
    assert events[0]["data"]["bundle"] == "D1" and events[0]["data"]["entry_id"] == f"{acc}:2"
    assert events[2]["data"]["session"] == "ev;1" and events[2]["data"]["app"] == "gy"
    assert events[3]["data"]["amount"] == 1500 and events[3]["data"]["account"] == acc
    ids = [int(e["id"]) for e in events]
    assert ids == sorted(ids)
    assert sql(api, "SELECT count(*) FROM bundle_left WHERE account_id = $1", acc)[0][0] == 0


def test_fast_path_top_ups_are_audited_counted_and_refused_like_the_route(api: Api):
    acc = new_account(api)
    r = api.http.post(f"/api/v1/accounts/{acc}/topup", headers={**ADMIN, "Idempotency-Key": "fp-1"},
                      json={"amount": 40})
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json() == {"account": acc, "kind": "topup", "amount": 40, "currency": "EUR", "ref": "idem:fp-1",
                        "entry_id": r.json()["entry_id"], "balance": 40, "duplicate": False}
    # refusals come from the FastAPI route (the body replayed): the same problem types as before
    is_problem(api.http.post(f"/api/v1/accounts/{acc}/topup", headers=ADMIN, json={"amount": -1, "ref": "n"}),
               422, "invalid_request")
    is_problem(api.http.post(f"/api/v1/accounts/{acc}/topup", headers={"Authorization": "Bearer nope"},
                             json={"amount": 1, "ref": "n"}), 401, "unauthorized")
    is_problem(api.http.post(f"/api/v1/accounts/{acc}/adjust", headers=ADMIN,
                             json={"amount": -41, "reason": "x", "ref": "a"}), 409, "insufficient_funds")
    is_problem(api.http.post("/api/v1/accounts/nobody/refund", headers=ADMIN,
                             json={"amount": 1, "reason": "x", "ref": "a"}), 404, "unknown_account")
    assert api.http.get(f"/api/v1/accounts/{acc}", headers=ADMIN).json()["balance"] == 40
    rows = [(r["action"], r["target"], json.loads(str(r["detail"]))) for r in api.audit()]
    assert ("api.POST", f"/api/v1/accounts/{acc}/topup", {"status": 200}) in rows
    assert ("api.POST", f"/api/v1/accounts/{acc}/adjust", {"status": 409}) in rows
    metrics = api.http.get("/metrics").text
    assert 'ocsd_admin_requests_total{method="POST",route="/api/v1/accounts/{account}/topup",status="200"}' in metrics


def test_cli_package_update_and_plan_delete_share_the_services(api: Api):
    done = api.ocsd("hotspot", "package", "create", "--code", "cli1", "--name", "c", "--time-seconds", "60",
                    "--rate-limit", "1M/1M", "--validity-hours", "1", "--price", "5")
    assert done.returncode == 0, done.stderr
    changed = json.loads(api.ocsd("hotspot", "package", "update", "cli1", "--price", "7", "--json").stdout)
    assert changed == {"ok": True, "package": "cli1", "changed": {"price": {"from": 5, "to": 7}}}
    assert {p["code"]: p for p in api.http.get("/api/v1/hotspot/packages", headers=ADMIN).json()}["cli1"]["price"] == 7
    bad = api.ocsd("hotspot", "package", "update", "cli1", "--rate-limit", "fast")
    assert bad.returncode == 2 and "rate limit" in bad.stderr
    assert api.ocsd("hotspot", "package", "update", "nope", "--price", "1").returncode == 2
    plan = {"code": "cliplan", "name": "p", "ambr_ul": 1000, "ambr_dl": 1000, "qci": 9, "arp": 8}
    assert api.http.post("/api/v1/plans", headers=ADMIN, json=plan).status_code == 201
    assert api.ocsd("plan", "delete", "cliplan").returncode == 0
    is_problem(api.http.get("/api/v1/plans/cliplan", headers=ADMIN), 404, "unknown_plan")
    gone = api.ocsd("plan", "delete", "cliplan")
    assert gone.returncode == 2 and "no plan cliplan" in gone.stderr
