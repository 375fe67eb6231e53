"""Blocking and unblocking an account through the admin API against the real daemon (issue 9 point 1 over HTTP,
issue 16 point 1): the status moves in PostgreSQL, the change is audited with the token's name, roles apply,
refusals are problem+json."""

from __future__ import annotations

import pytest

from tests.e2e.test_admin_api import is_problem, new_account
from tests.support.admin_api import ADMIN, Api, api

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

__all__ = ["api"]


def test_block_and_unblock_an_account(api: Api):
    account = new_account(api)
    r = api.http.get(f"/api/v1/accounts/{account}/status", headers=ADMIN)
    assert r.status_code == 200 and r.json()["status"] == "active", r.text

    r = api.http.post(f"/api/v1/accounts/{account}/block", headers=ADMIN, json={"reason": "fraud check"})
    assert r.status_code == 200, r.text
    assert r.json()["status"] == "blocked" and r.json()["reason"] == "fraud check" and r.json()["changed"] is True
    assert r.json()["changed_at"]
    again = api.http.post(f"/api/v1/accounts/{account}/block", headers=ADMIN, json={})
    assert again.json()["status"] == "blocked" and again.json()["changed"] is False
    assert api.http.get(f"/api/v1/accounts/{account}/status", headers=ADMIN).json()["status"] == "blocked"

    read = api.token("read", "status-reader")
    assert api.http.get(f"/api/v1/accounts/{account}/status", headers=read).status_code == 200
    is_problem(api.http.post(f"/api/v1/accounts/{account}/unblock", headers=read), 403, "forbidden")
    is_problem(api.http.post("/api/v1/accounts/no-such-account/block", headers=ADMIN, json={}), 404,
               "unknown_account")
    is_problem(api.http.post(f"/api/v1/accounts/{account}/block", headers=ADMIN, json={"reason": "a\nb"}), 422,
               "invalid_request")

    r = api.http.post(f"/api/v1/accounts/{account}/unblock", headers=ADMIN)
    assert r.status_code == 200 and r.json()["status"] == "active" and r.json()["changed"] is True
    actions = [(a["action"], a["target"]) for a in api.audit()]
    assert ("account.block", account) in actions and ("account.unblock", account) in actions
