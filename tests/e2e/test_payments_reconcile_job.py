"""The daemon's own reconcile job (issue 17 point 1: "a periodic task"): an STK push whose callback never comes
is resolved by the STK query within `[payments] reconcile_interval`, with nobody running a command."""

from __future__ import annotations

import pytest

from tests.support.payments_daemon import running

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


def test_the_periodic_job_resolves_a_silent_push(tmp_path):
    with running(tmp_path, reconcile_interval=0.5) as pay:
        account = pay.sim("254712000091")
        pay.fake.scenario["254712000091"] = "silent"
        p = pay.stk("254712000091", "topup", 3000)
        done = pay.wait_final(p["id"], timeout=20)
        assert done["status"] == "applied", done
        assert pay.balance(account) == 3000
        assert any(kind == "stk_query" for kind, _ in pay.fake.requests)
        assert pay.fake.pushes[p["checkout_request_id"]].get("acks") is None  # no callback was ever sent
