"""`subscriber list` (paged, by status), `subscriber set` (each change audited, keys re-sealed and never in the
audit), `subscriber import --on-conflict skip|update|fail`, and `subscriber delete --force` writing a closing
ledger entry instead of dropping the money (issue 13 point 4)."""

from __future__ import annotations

import asyncio
import secrets

import asyncpg

from ocs.sealing import DEMO_KEY, Sealer
from ocs.services.auc import aad

K = "465b5ce8b199b49faa5f0a2ee238a6bc"
OPC = "cd63cb71954a9f4e48a5994e37a02baf"
K2, OPC2 = "00112233445566778899aabbccddeeff", "ffeeddccbbaa99887766554433221100"


def new_imsi() -> str:
    return f"00101{secrets.randbelow(10**10):010d}"


def msisdn_of(imsi: str) -> str:
    return "1" + imsi[-10:]


def add(ocsd, imsi: str) -> None:
    r = ocsd("subscriber", "add", "--imsi", imsi, "--msisdn", msisdn_of(imsi), "--k", K, "--opc", OPC)
    assert r.code == 0, r.err


async def fetch(dsn: str, query: str, *args: object) -> list[asyncpg.Record]:
    conn = await asyncpg.connect(dsn)
    try:
        return list(await conn.fetch(query, *args))
    finally:
        await conn.close()


async def drain(cli_env) -> None:
    from ocs.store.ledger import LedgerWriter
    from ocs.store.redis_client import RedisStore
    from tests.integration.conftest import REDIS_URL

    store = RedisStore(REDIS_URL, cli_env.prefix)
    pool = await asyncpg.create_pool(cli_env.dsn, min_size=1, max_size=1)
    try:
        writer = LedgerWriter(store, pool)
        await writer.drain()
        await writer.stop(drain=False)
    finally:
        await pool.close()
        await store.close()


def test_list_pages_and_filters(ocsd, cli_env):
    prefix = f"00101{secrets.randbelow(10**5):05d}"
    imsis = sorted(f"{prefix}{i:05d}" for i in range(5))
    for imsi in imsis:
        add(ocsd, imsi)
    assert ocsd("subscriber", "set", imsis[1], "--status", "blocked").code == 0
    seen, after = [], str(int(imsis[0]) - 1).zfill(15)  # just before the first of ours (paging by IMSI)
    while True:
        page = ocsd("subscriber", "list", "--limit", "2", "--after", after, "--json").json
        seen += [s["imsi"] for s in page["subscribers"] if s["imsi"].startswith(prefix)]
        if page["next"] is None or not page["next"].startswith(prefix):
            break
        after = page["next"]
    assert seen == imsis
    blocked = ocsd("subscriber", "list", "--status", "blocked", "--limit", "10000", "--json").json["subscribers"]
    assert imsis[1] in [s["imsi"] for s in blocked] and imsis[0] not in [s["imsi"] for s in blocked]
    text = ocsd("subscriber", "list", "--limit", "1", "--after", after)
    assert text.code == 0 and text.out.splitlines()[0].split()[:3] == ["imsi", "msisdn", "status"]


def test_set_changes_are_audited_and_keys_resealed(ocsd, cli_env):
    imsi = new_imsi()
    add(ocsd, imsi)
    new_msisdn = "2" + imsi[-10:]
    r = ocsd("subscriber", "set", msisdn_of(imsi), "--msisdn", new_msisdn, "--apn", "ims", "--apn", "internet",
             "--ambr-dl", "50000000", "--k", K2, "--opc", OPC2, "--json")
    assert r.code == 0, r.err
    assert r.json["changed"] == {"msisdn": {"from": msisdn_of(imsi), "to": new_msisdn},
                                 "apns": {"from": ["internet"], "to": ["ims", "internet"]},
                                 "ambr_dl": {"from": 100000000, "to": 50000000}, "k": "changed", "opc": "changed"}
    shown = ocsd("subscriber", "show", new_msisdn, "--json").json  # the MSISDN names it now
    assert (shown["imsi"], shown["apns"], shown["ambr_dl"]) == (imsi, ["ims", "internet"], 50000000)
    assert ocsd("account", "show", "--msisdn", new_msisdn).code == 0  # the identity index follows
    stored = asyncio.run(fetch(cli_env.dsn, "SELECT k_enc, opc_enc FROM subscribers WHERE imsi = $1", imsi))[0]
    sealer = Sealer(DEMO_KEY)
    assert sealer.open(bytes(stored["k_enc"]), aad("k", imsi)).hex() == K2
    assert sealer.open(bytes(stored["opc_enc"]), aad("opc", imsi)).hex() == OPC2
    rows = asyncio.run(fetch(cli_env.dsn, "SELECT action, detail::text AS d FROM audit WHERE target = $1", imsi))
    assert [r["action"] for r in rows] == ["subscriber.set"]
    assert K2 not in rows[0]["d"] and OPC2 not in rows[0]["d"] and '"k_enc": "changed"' in rows[0]["d"]
    again = ocsd("subscriber", "set", imsi, "--ambr-dl", "50000000")
    assert (again.code, again.out) == (0, f"{imsi}: nothing to change\n")
    assert ocsd("subscriber", "set", new_imsi(), "--status", "active").code == 2
    assert ocsd("subscriber", "set", imsi, "--opc", OPC2).code == 2


def test_import_on_conflict(ocsd, cli_env, tmp_path):
    imsi = new_imsi()
    add(ocsd, imsi)
    fresh = new_imsi()
    csv = tmp_path / "subs.csv"
    csv.write_text("imsi,msisdn,k,opc,apns,status\n"
                   f"{imsi},{msisdn_of(imsi)},{K2},{OPC2},ims,barred\n"
                   f"{fresh},{msisdn_of(fresh)},{K},{OPC},,\n")
    failed = ocsd("subscriber", "import", str(csv), "--json")
    assert failed.code == 2 and failed.json["refused"] == [{"line": 2, "error": f"IMSI {imsi} is already provisioned"}]
    skipped = ocsd("subscriber", "import", str(csv), "--on-conflict", "skip", "--json")
    assert skipped.code == 0 and (skipped.json["skipped"], skipped.json["imported"]) == (2, 0)
    updated = ocsd("subscriber", "import", str(csv), "--on-conflict", "update", "--json")
    assert updated.code == 0 and updated.json["updated"] >= 1
    shown = ocsd("subscriber", "show", imsi, "--json").json
    assert (shown["status"], shown["apns"]) == ("barred", ["ims"])
    actions = asyncio.run(fetch(cli_env.dsn, "SELECT action FROM audit WHERE target = $1", imsi))
    assert [a["action"] for a in actions] == ["subscriber.import"]


def test_delete_force_closes_the_balance_in_the_ledger(ocsd, cli_env):
    imsi = new_imsi()
    add(ocsd, imsi)
    account = ocsd("subscriber", "show", imsi, "--json").json["account"]
    assert ocsd("account", "topup", "--imsi", imsi, "--amount", "12.34", "--ref", "t").code == 0
    refused = ocsd("subscriber", "delete", imsi)
    assert refused.code == 2
    assert ocsd("subscriber", "delete", imsi, "--force").code == 0
    asyncio.run(drain(cli_env))  # what the daemon's ledger writer does
    rows = asyncio.run(fetch(cli_env.dsn, "SELECT kind, amount, balance_after, ref, detail::text AS d FROM ledger "
                                          "WHERE account_id = $1 ORDER BY seq", account))
    assert [(r["kind"], r["amount"], r["balance_after"], r["ref"]) for r in rows] == [
        ("topup", 1234, 1234, "t"), ("adjust", -1234, 0, f"close:{imsi}")]
    assert "deleted" in rows[1]["d"]
