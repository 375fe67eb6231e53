"""`ocsd db migrate`, `keys generate` and `subscriber add|show|import|delete` against the real PostgreSQL/Redis."""

from __future__ import annotations

import asyncio
import secrets

import asyncpg
import pytest

from auc import Milenage
from auc import opc as derive_opc
from ocs.sealing import DEMO_KEY, Sealer
from ocs.services.auc import aad

pytestmark = pytest.mark.integration

K = "465b5ce8b199b49faa5f0a2ee238a6bc"     # TS 35.208 test set 1
OP = "cdc202d5123e20f62b6d676ac72cb318"
OPC = "cd63cb71954a9f4e48a5994e37a02baf"


def new_imsi() -> str:
    return "00101" + f"{secrets.randbelow(10**10):010d}"


def msisdn_of(imsi: str) -> str:
    return "7" + imsi[-10:]


async def row(dsn: str, imsi: str) -> asyncpg.Record | None:
    conn = await asyncpg.connect(dsn)
    try:
        return await conn.fetchrow("SELECT * FROM subscribers WHERE imsi = $1", imsi)
    finally:
        await conn.close()


def test_migrate_is_idempotent(ocsd):
    first = ocsd("db", "migrate", "--json")
    assert first.code == 0, first.err
    assert first.json == {"ok": True, "applied": []}   # the fixture migrated it already
    assert ocsd("db", "migrate").out == "schema is up to date\n"


def test_add_seals_keys_and_show_never_prints_them(ocsd, cli_env):
    imsi = new_imsi()
    r = ocsd("subscriber", "add", "--imsi", imsi, "--msisdn", msisdn_of(imsi), "--k", K, "--op", OP,
             "--amf", "b9b9", "--sqn", "ff9bb4d0b607", "--apn", "internet", "--apn", "ims")
    assert r.code == 0, r.err
    assert r.out == f"added {imsi} ({msisdn_of(imsi)})\n"
    stored = asyncio.run(row(cli_env.dsn, imsi))
    sealer = Sealer(DEMO_KEY)
    assert sealer.open(bytes(stored["k_enc"]), aad("k", imsi)).hex() == K
    assert sealer.open(bytes(stored["opc_enc"]), aad("opc", imsi)).hex() == OPC == \
        derive_opc(bytes.fromhex(K), bytes.fromhex(OP)).hex()
    assert K not in bytes(stored["k_enc"]).hex()
    assert bytes(stored["amf"]) == b"\xb9\xb9"
    assert stored["seq_reserved"] == 0xff9bb4d0b607 >> 5   # next SEQ is above the USIM's (IND = 5 bits)
    assert list(stored["apns"]) == ["internet", "ims"]
    Milenage(bytes.fromhex(K), bytes.fromhex(OPC))  # the keys are usable as given

    shown = ocsd("subscriber", "show", imsi, "--json")
    assert shown.code == 0, shown.err
    view = shown.json
    assert view["imsi"] == imsi and view["msisdn"] == msisdn_of(imsi)
    assert view["apns"] == ["internet", "ims"] and view["status"] == "active" and view["amf"] == "b9b9"
    assert view["balance"] == 0 and view["currency"] == "EUR" and view["bundles"] == []
    text = ocsd("subscriber", "show", msisdn_of(imsi)).out   # by MSISDN too
    for secret in (K, OPC, OP, K.upper(), OPC.upper()):
        assert secret not in shown.out and secret not in text


@pytest.mark.parametrize(("args", "message"), [
    (["--imsi", "00101123456789"], "--imsi: must be 15 digits"),
    (["--k", K[:-2]], "--k: must be 16 octets"),
    (["--k", "zz" * 16], "--k: must be hexadecimal"),
    (["--opc", OPC[:-2]], "--opc: must be 16 octets"),
    (["--op", OP], "--opc: give exactly one of OPc and OP"),
    (["--amf", "800"], "--amf"),
    (["--apn", "bad apn"], "--apn"),
])
def test_wrong_input_is_one_line_and_exit_2(ocsd, cli_env, args, message):
    imsi = new_imsi()
    base = {"--imsi": imsi, "--msisdn": msisdn_of(imsi), "--k": K, "--opc": OPC}
    it = iter(args)
    for name, value in zip(it, it, strict=True):
        base[name] = value
    argv = [x for kv in base.items() for x in kv]
    r = ocsd("subscriber", "add", *argv)
    assert r.code == 2
    assert r.err.startswith("error: " + message), r.err
    assert r.err.count("\n") == 1 and r.out == ""
    assert asyncio.run(row(cli_env.dsn, imsi)) is None


def test_duplicates_are_refused(ocsd):
    imsi = new_imsi()
    assert ocsd("subscriber", "add", "--imsi", imsi, "--msisdn", msisdn_of(imsi), "--k", K, "--opc", OPC).code == 0
    again = ocsd("subscriber", "add", "--imsi", imsi, "--msisdn", "1" + imsi[-10:], "--k", K, "--opc", OPC)
    assert (again.code, again.err) == (2, f"error: IMSI {imsi} is already provisioned\n")
    other = new_imsi()
    taken = ocsd("subscriber", "add", "--imsi", other, "--msisdn", msisdn_of(imsi), "--k", K, "--opc", OPC)
    assert (taken.code, taken.err) == (2, f"error: MSISDN {msisdn_of(imsi)} is already provisioned\n")


def test_import_keeps_good_rows_and_reports_bad_lines(ocsd, cli_env, tmp_path):
    a, b, c, dup = new_imsi(), new_imsi(), new_imsi(), new_imsi()
    csv = tmp_path / "subs.csv"
    csv.write_text("\n".join([
        "imsi,msisdn,k,opc,op,amf,sqn,apns,status",
        f"{a},{msisdn_of(a)},{K},{OPC},,,,internet;ims,",
        f"{b[:-1]},{msisdn_of(b)},{K},{OPC},,,,,",           # line 3: 14-digit IMSI
        f"{c},{msisdn_of(c)},{K},,{OP},8000,20,,barred",
        f"{dup},{msisdn_of(a)},{K},{OPC},,,,,",               # line 5: MSISDN of line 2
        f"{b},{msisdn_of(b)},{K[:-2]},{OPC},,,,,",            # line 6: short K
    ]) + "\n")
    r = ocsd("subscriber", "import", str(csv), "--json")
    assert r.code == 2
    report = r.json
    assert report["imported"] == 2 and report["ok"] is False
    assert [x["line"] for x in report["refused"]] == [3, 5, 6]
    assert "imsi: must be 15 digits" in report["refused"][0]["error"]
    assert "already provisioned" in report["refused"][1]["error"]
    assert "k: must be 16 octets" in report["refused"][2]["error"]
    assert asyncio.run(row(cli_env.dsn, a)) is not None
    stored_c = asyncio.run(row(cli_env.dsn, c))
    assert stored_c["status"] == "barred" and stored_c["seq_reserved"] == 0x20 >> 5
    assert asyncio.run(row(cli_env.dsn, dup)) is None
    text = ocsd("subscriber", "import", str(csv))   # again: every row is now refused, nothing changes
    assert text.code == 2 and text.out.strip().endswith("imported 0, updated 0, skipped 0, refused 5")


def test_import_with_a_bad_header_is_refused(ocsd, tmp_path):
    csv = tmp_path / "bad.csv"
    csv.write_text("imsi,phone,k\n001010000000001,123456,00\n")
    r = ocsd("subscriber", "import", str(csv))
    assert r.code == 2 and r.err.startswith("error: header: ")


def test_delete(ocsd, cli_env):
    imsi = new_imsi()
    assert ocsd("subscriber", "add", "--imsi", imsi, "--msisdn", msisdn_of(imsi), "--k", K, "--opc", OPC).code == 0
    assert ocsd("subscriber", "delete", imsi).out == f"deleted {imsi}\n"
    assert asyncio.run(row(cli_env.dsn, imsi)) is None
    gone = ocsd("subscriber", "delete", imsi)
    assert (gone.code, gone.err) == (2, f"error: no subscriber {imsi}\n")
    assert ocsd("subscriber", "show", imsi).code == 2


def test_without_a_key_file_the_cli_refuses(ocsd, cli_env):
    cli_env.config.write_text(cli_env.config.read_text().replace("demo = true", "demo = false"))
    imsi = new_imsi()
    r = ocsd("subscriber", "add", "--imsi", imsi, "--msisdn", msisdn_of(imsi), "--k", K, "--opc", OPC)
    assert r.code == 2 and r.err.startswith("error: keys.file: no key file configured")


def test_keys_generate(ocsd, tmp_path):
    path = tmp_path / "keys.bin"
    r = ocsd("keys", "generate", str(path), config=False)
    assert r.code == 0, r.err
    assert path.stat().st_mode & 0o777 == 0o600
    assert len(bytes.fromhex(path.read_text().strip())) == 32
    Sealer.from_file(path)
    again = ocsd("keys", "generate", str(path), config=False)
    assert again.code == 2 and "exists" in again.err


def test_delete_by_msisdn_and_refused_while_money_remains(ocsd, cli_env):
    imsi = new_imsi()
    assert ocsd("subscriber", "add", "--imsi", imsi, "--msisdn", msisdn_of(imsi), "--k", K, "--opc", OPC).code == 0
    assert ocsd("account", "topup", "--imsi", imsi, "--amount-minor", "250", "--ref", "t1").code == 0
    refused = ocsd("subscriber", "delete", msisdn_of(imsi))
    assert refused.code == 2 and "still has a balance of 250" in refused.err
    assert asyncio.run(row(cli_env.dsn, imsi)) is not None
    forced = ocsd("subscriber", "delete", msisdn_of(imsi), "--force", "--json")
    assert forced.code == 0 and forced.json["ok"] is True
    assert asyncio.run(row(cli_env.dsn, imsi)) is None
    assert ocsd("account", "show", "--imsi", imsi).code == 2   # the Redis counters went with it
