"""`bundle update|retire CODE` and `tariff delete RG` (issue 13 point 4): each audited; an update changes what
later purchases get, a retired bundle is no longer listed or sold, a deleted tariff is gone."""

from __future__ import annotations

import asyncio
import secrets

import asyncpg


async def audit_rows(dsn: str, target: str) -> list[tuple[str, str]]:
    conn = await asyncpg.connect(dsn)
    try:
        return [(r["action"], r["detail"]) for r in
                await conn.fetch("SELECT action, detail::text AS detail FROM audit WHERE target = $1 ORDER BY id",
                                 target)]
    finally:
        await conn.close()


def test_bundle_update_and_retire(ocsd, cli_env):
    code = "b-" + secrets.token_hex(4)
    assert ocsd("bundle", "create", "--code", code, "--name", "Data", "--type", "data", "--data-octets", "1000",
                "--validity-days", "7", "--priority", "5", "--price", "3.00").code == 0
    r = ocsd("bundle", "update", code, "--price", "2.50", "--name", "Data promo", "--json")
    assert r.code == 0, r.err
    assert r.json["changed"] == {"name": {"from": "Data", "to": "Data promo"}, "price": {"from": 300, "to": 250}}
    listed = {b["code"]: b for b in ocsd("bundle", "list", "--json").json}
    assert (listed[code]["name"], listed[code]["price"]) == ("Data promo", 250)

    acct = ocsd("account", "create", "--json").json["account"]
    assert ocsd("account", "topup", "--account", acct, "--amount", "10", "--ref", "t").code == 0
    bought = ocsd("bundle", "purchase", "--account", acct, "--bundle", code, "--json")
    assert bought.code == 0 and bought.json["balance"] == 750  # the new price

    assert ocsd("bundle", "retire", code).out == f"retired bundle {code}\n"
    assert code not in {b["code"] for b in ocsd("bundle", "list", "--json").json}
    refused = ocsd("bundle", "purchase", "--account", acct, "--bundle", code)
    assert refused.code == 2
    assert ocsd("bundle", "retire", code).code == 2  # already retired
    assert ocsd("account", "show", "--account", acct, "--json").json["bundles"][0]["bundle"] == code  # runs on
    assert [a for a, _ in asyncio.run(audit_rows(cli_env.dsn, code))] == ["bundle.update", "bundle.retire"]


def test_tariff_delete(ocsd, cli_env):
    rg = str(secrets.randbelow(10**6) + 10**6)
    assert ocsd("tariff", "set", "--rating-group", rg, "--unit", "octets", "--price", "0.05", "--per", "1000").code == 0
    r = ocsd("tariff", "delete", rg, "--json")
    assert r.code == 0 and r.json["was"]["price_home"] == 5
    assert rg not in {str(t["rating_group"]) for t in ocsd("tariff", "list", "--json").json}
    assert ocsd("tariff", "delete", rg).code == 2
    rows = asyncio.run(audit_rows(cli_env.dsn, rg))
    assert [a for a, _ in rows] == ["tariff.delete"] and '"price_home": 5' in rows[0][1]
