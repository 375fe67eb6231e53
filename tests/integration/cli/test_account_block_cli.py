"""`ocsd account block|unblock ID` against the real PostgreSQL/Redis: the status in PostgreSQL and in the
account's Redis hash (where Gy reads it), `account show`, idempotence, and clear refusals."""

from __future__ import annotations

import redis

from tests.integration.cli.test_charging_cli import provision
from tests.integration.conftest import REDIS_URL


def test_block_and_unblock(ocsd):
    imsi, _ = provision(ocsd)
    account = ocsd("account", "show", "--imsi", imsi, "--json").json["account"]
    out = ocsd("account", "block", account, "--reason", "chargeback", "--json")
    assert out.code == 0, out.err
    assert (out.json["status"], out.json["reason"], out.json["changed"]) == ("blocked", "chargeback", True)
    assert ocsd("account", "block", account, "--json").json["changed"] is False
    shown = ocsd("account", "show", "--account", account, "--json").json
    assert (shown["status"], shown["status_reason"]) == ("blocked", None)
    assert "status    blocked" in ocsd("account", "show", "--account", account).out
    r = redis.Redis.from_url(REDIS_URL, decode_responses=True)
    hashes = list(r.scan_iter(match=f"*:{{{account}}}:acct"))  # account ids are random: one hash
    assert hashes and all(r.hget(k, "blocked") == "1" for k in hashes)
    assert ocsd("account", "unblock", account).out.strip() == f"unblocked: {account}"
    assert all(r.hget(k, "blocked") is None for k in hashes)
    assert ocsd("account", "unblock", account, "--json").json["changed"] is False


def test_refusals(ocsd):
    missing = ocsd("account", "block", "nobody-here", "--json")
    assert missing.code == 2 and missing.json["ok"] is False
    imsi, _ = provision(ocsd)
    account = ocsd("account", "show", "--imsi", imsi, "--json").json["account"]
    long = ocsd("account", "block", account, "--reason", "x" * 300)
    assert long.code == 2 and "reason" in long.err
