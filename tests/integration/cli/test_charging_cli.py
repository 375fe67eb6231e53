"""`ocsd account|bundle|tariff|ledger ...` against the real PostgreSQL/Redis."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from datetime import datetime

import asyncpg
import pytest
import redis

from tests.integration.conftest import REDIS_URL

pytestmark = pytest.mark.integration

K = "465b5ce8b199b49faa5f0a2ee238a6bc"     # TS 35.208 test set 1
OPC = "cd63cb71954a9f4e48a5994e37a02baf"
DAY = 86400


def new_imsi() -> str:
    return "00101" + f"{secrets.randbelow(10**10):010d}"


def msisdn_of(imsi: str) -> str:
    return "7" + imsi[-10:]


def provision(ocsd) -> tuple[str, str]:
    imsi = new_imsi()
    r = ocsd("subscriber", "add", "--imsi", imsi, "--msisdn", msisdn_of(imsi), "--k", K, "--opc", OPC)
    assert r.code == 0, r.err
    return imsi, msisdn_of(imsi)


def state(ocsd, imsi: str) -> tuple[int, str, list[dict]]:
    r = ocsd("subscriber", "show", imsi, "--json")
    assert r.code == 0, r.err
    return r.json["balance"], r.json["currency"], r.json["bundles"]


def account_of(ocsd, imsi: str) -> str:
    r = ocsd("subscriber", "show", imsi, "--json")
    assert r.code == 0, r.err
    return str(r.json["account"])


def topup(ocsd, imsi: str, amount: int, ref: str | None = None) -> None:
    r = ocsd("account", "topup", "--imsi", imsi, "--amount-minor", str(amount), "--ref", ref or secrets.token_hex(4))
    assert r.code == 0, r.err


def new_code() -> str:
    return "b-" + secrets.token_hex(4)


def create_bundle(ocsd, code: str, *, price: int, data: int = 0, voice: int = 0, sms: int = 0, roaming: int = 0,
                  kind: str = "hybrid", days: int = 30, priority: int = 10) -> None:
    r = ocsd("bundle", "create", "--code", code, "--name", f"Bundle {code}", "--type", kind,
             "--data-octets", str(data), "--voice-seconds", str(voice), "--sms", str(sms),
             "--roaming-data-octets", str(roaming), "--validity-days", str(days), "--priority", str(priority),
             "--price-minor", str(price))
    assert r.code == 0, r.err


def expires_epoch(b: dict) -> float:
    assert b["expires_at"].endswith("Z")
    return datetime.fromisoformat(b["expires_at"].replace("Z", "+00:00")).timestamp()


def is_one_error_line(r, text: str) -> bool:
    return r.err == f"error: {text}\n" and r.out == ""


# ---- account topup --------------------------------------------------------------------------------------

def test_topup_credits_and_is_idempotent_by_ref(ocsd):
    imsi, msisdn = provision(ocsd)
    r = ocsd("account", "topup", "--imsi", imsi, "--amount-minor", "500", "--ref", "t-1")
    assert (r.code, r.out) == (0, f"topped up {imsi} by 5.00 EUR: balance 5.00 EUR\n"), r.err
    again = ocsd("account", "topup", "--imsi", imsi, "--amount-minor", "500", "--ref", "t-1")
    assert again.code == 0, again.err
    assert again.out == f"duplicate: ref t-1 was already applied to {imsi}; nothing changed, balance 5.00 EUR\n"
    assert state(ocsd, imsi)[0] == 500

    by_msisdn = ocsd("account", "topup", "--msisdn", msisdn, "--amount-minor", "250", "--ref", "t-2", "--json")
    assert by_msisdn.code == 0, by_msisdn.err
    account = account_of(ocsd, imsi)
    assert by_msisdn.json == {"ok": True, "account": account, "msisdn": msisdn, "amount": 250, "currency": "EUR",
                              "ref": "t-2", "entry_id": f"{account}:2", "balance": 750, "duplicate": False}
    dup = ocsd("account", "topup", "--account", account, "--amount-minor", "250", "--ref", "t-2", "--json").json
    assert dup == {"ok": True, "account": account, "amount": 250, "currency": "EUR", "ref": "t-2",
                   "entry_id": f"{account}:2", "balance": 750, "duplicate": True}
    assert state(ocsd, imsi) == (750, "EUR", [])

    shown = ocsd("account", "show", "--msisdn", msisdn, "--json")
    assert shown.code == 0, shown.err
    assert shown.json == {"account": account, "status": "active", "status_reason": None, "balance": 750, "held": 0,
                          "currency": "EUR", "bundles": [],
                          "sims": [{"imsi": imsi, "msisdn": msisdn}]}


def test_topup_refusals_change_nothing(ocsd):
    imsi, _ = provision(ocsd)
    topup(ocsd, imsi, 100, "first")
    other_amount = ocsd("account", "topup", "--imsi", imsi, "--amount-minor", "999", "--ref", "first")
    assert other_amount.code == 2 and is_one_error_line(other_amount, "duplicate_reference: first")
    zero = ocsd("account", "topup", "--imsi", imsi, "--amount-minor", "0", "--ref", "z")
    assert zero.code == 2 and is_one_error_line(zero, "invalid_amount: amount must not be zero")
    negative = ocsd("account", "topup", "--imsi", imsi, "--amount-minor", "-5", "--ref", "n")
    assert negative.code == 2 and is_one_error_line(negative, "invalid_amount: amount -5 is negative")
    not_int = ocsd("account", "topup", "--imsi", imsi, "--amount-minor", "1.5", "--ref", "f")
    assert not_int.code == 2 and "'1.5' is not a valid integer" in not_int.err
    as_json = ocsd("account", "topup", "--imsi", imsi, "--amount-minor", "0", "--ref", "z", "--json")
    assert as_json.code == 2 and as_json.json == {"ok": False, "error": "invalid_amount: amount must not be zero"}
    assert state(ocsd, imsi)[0] == 100
    ledger = ocsd("ledger", "show", "--imsi", imsi, "--json").json
    assert [(e["kind"], e["amount"], e["ref"]) for e in ledger] == [("topup", 100, "first")]


def test_unknown_subscriber_is_exit_2(ocsd):
    unknown_imsi = new_imsi()
    r = ocsd("account", "topup", "--imsi", unknown_imsi, "--amount-minor", "5", "--ref", "x")
    assert r.code == 2 and is_one_error_line(r, f"unknown_subscriber: {unknown_imsi}")
    r = ocsd("account", "topup", "--msisdn", "79990000000", "--amount-minor", "5", "--ref", "x")
    assert r.code == 2 and is_one_error_line(r, "unknown_subscriber: 79990000000")
    r = ocsd("account", "show", "--msisdn", "79990000000")
    assert r.code == 2 and is_one_error_line(r, "unknown_subscriber: 79990000000")
    bad = ocsd("account", "topup", "--imsi", "12345", "--amount-minor", "5", "--ref", "x")
    assert bad.code == 2 and bad.err.startswith("error: --imsi: must be 15 digits") and bad.err.count("\n") == 1


@pytest.mark.parametrize("argv", [
    ["account", "topup", "--amount-minor", "5", "--ref", "r"],
    ["account", "show"],
    ["bundle", "purchase", "--bundle", "none"],
    ["ledger", "show"],
])
@pytest.mark.parametrize("which", ["both", "neither"])
def test_subscriber_is_named_exactly_once(ocsd, argv, which):
    imsi, msisdn = provision(ocsd)
    topup(ocsd, imsi, 40, "keep")
    named = ["--imsi", imsi, "--msisdn", msisdn] if which == "both" else []
    r = ocsd(*argv, *named)
    assert r.code == 2
    expected = "give exactly one of --account, --imsi or --msisdn" + \
        (" (got --imsi and --msisdn)" if which == "both" else "")
    assert is_one_error_line(r, expected), r.err
    assert state(ocsd, imsi) == (40, "EUR", [])


def test_rebuild_refuses_both_imsi_and_msisdn(ocsd):
    imsi, msisdn = provision(ocsd)
    r = ocsd("ledger", "rebuild-redis", "--imsi", imsi, "--msisdn", msisdn)
    assert r.code == 2 and is_one_error_line(r, "give exactly one of --account, --imsi or --msisdn "
                                                "(got --imsi and --msisdn)")


# ---- bundle create / list -------------------------------------------------------------------------------

def test_bundle_create_and_list(ocsd):
    code = new_code()
    r = ocsd("bundle", "create", "--code", code, "--name", "Data 5G", "--type", "data", "--data-octets", "5000000",
             "--roaming-data-octets", "1000", "--validity-days", "30", "--priority", "7", "--price-minor", "999")
    assert (r.code, r.out) == (0, f"created bundle {code} (Data 5G): 9.99 EUR, 30 days\n"), r.err
    voice = new_code()
    r = ocsd("bundle", "create", "--code", voice, "--name", "Talk", "--type", "voice", "--voice-seconds", "600",
             "--sms", "50", "--validity-days", "7", "--priority", "3", "--price-minor", "250", "--currency", "USD",
             "--rating-groups", "20,21", "--json")
    assert r.code == 0, r.err
    assert r.json == {"ok": True, "code": voice, "name": "Talk", "type": "voice", "data_octets": 0,
                      "voice_seconds": 600, "sms": 50, "roaming_data_octets": 0, "validity_days": 7, "priority": 3,
                      "price": 250, "currency": "USD", "rating_groups": [20, 21]}

    listed = ocsd("bundle", "list", "--json")
    assert listed.code == 0, listed.err
    mine = [b for b in listed.json if b["code"] in (code, voice)]
    assert mine == [   # priority order: 3 before 7
        {"code": voice, "name": "Talk", "type": "voice", "data_octets": 0, "voice_seconds": 600, "sms": 50,
         "roaming_data_octets": 0, "validity_days": 7, "priority": 3, "price": 250, "currency": "USD",
         "rating_groups": [20, 21]},
        {"code": code, "name": "Data 5G", "type": "data", "data_octets": 5000000, "voice_seconds": 0, "sms": 0,
         "roaming_data_octets": 1000, "validity_days": 30, "priority": 7, "price": 999, "currency": "EUR",
         "rating_groups": []},
    ]
    priorities = [b["priority"] for b in listed.json]
    assert priorities == sorted(priorities)

    text = ocsd("bundle", "list")
    assert text.code == 0, text.err
    lines = text.out.splitlines()
    assert lines[0].split() == ["code", "name", "type", "data_octets", "voice_seconds", "sms",
                                "roaming_data_octets", "validity_days", "priority", "price", "currency"]
    assert len(lines) == 1 + len(listed.json)
    row = next(line for line in lines if line.startswith(code + " "))
    assert row.split() == [code, "Data", "5G", "data", "5000000", "0", "0", "1000", "30", "7", "9.99", "EUR"]
    # aligned: text columns start where their header does, number columns end where it ends
    header = lines[0]
    assert row[header.index("name"):].startswith("Data 5G ")
    assert row[header.index("type"):].startswith("data ")
    assert row[header.index("currency"):] == "EUR"
    assert row[header.index("price"):].startswith("9.99 ")  # major units of EUR
    for column, value in (("data_octets", "5000000"), ("roaming_data_octets", "1000")):
        end = header.index(" " + column + " ") + 1 + len(column)
        assert row[end - len(value):end] == value and row[end] == " ", column


def test_bundle_create_refusals(ocsd):
    code = new_code()
    create_bundle(ocsd, code, price=100, data=10)
    again = ocsd("bundle", "create", "--code", code, "--name", "Other", "--type", "sms", "--sms", "5",
                 "--validity-days", "1", "--priority", "1", "--price-minor", "1")
    assert again.code == 2 and is_one_error_line(again, f"bundle_exists: {code}")
    negative = ocsd("bundle", "create", "--code", new_code(), "--name", "N", "--type", "data",
                    "--validity-days", "1", "--priority", "1", "--price-minor", "-1")
    assert negative.code == 2 and negative.err.startswith("error: ") and "price" in negative.err
    bad_code = ocsd("bundle", "create", "--code", "no spaces", "--name", "N", "--type", "data",
                    "--validity-days", "1", "--priority", "1", "--price-minor", "1")
    assert bad_code.code == 2 and bad_code.err.startswith("error: bundle code 'no spaces' must match")
    bad_type = ocsd("bundle", "create", "--code", new_code(), "--name", "N", "--type", "video",
                    "--validity-days", "1", "--priority", "1", "--price-minor", "1")
    assert bad_type.code == 2
    listed = [b for b in ocsd("bundle", "list", "--json").json if b["code"] == code]
    assert listed == [{"code": code, "name": f"Bundle {code}", "type": "hybrid", "data_octets": 10,
                       "voice_seconds": 0, "sms": 0, "roaming_data_octets": 0, "validity_days": 30,
                       "priority": 10, "price": 100, "currency": "EUR", "rating_groups": []}]


# ---- bundle purchase ------------------------------------------------------------------------------------

def test_purchase_with_enough_balance(ocsd):
    imsi, msisdn = provision(ocsd)
    code = new_code()
    create_bundle(ocsd, code, price=600, data=1_000_000, voice=300, sms=20, roaming=5000, days=30, priority=4)
    topup(ocsd, imsi, 1000)
    before = time.time()
    r = ocsd("bundle", "purchase", "--msisdn", msisdn, "--bundle", code, "--ref", "p-1", "--json")
    after = time.time()
    assert r.code == 0, r.err
    account = account_of(ocsd, imsi)
    assert r.json == {"ok": True, "account": account, "msisdn": msisdn, "bundle": code, "ref": "p-1",
                      "entry_id": f"{account}:2", "bundle_id": 2, "balance": 400, "duplicate": False}
    balance, currency, bundles = state(ocsd, imsi)
    assert (balance, currency) == (400, "EUR")
    assert len(bundles) == 1
    b = dict(bundles[0])
    expires = expires_epoch(b)
    del b["expires_at"]
    assert b == {"bundle": code, "priority": 4, "data_octets": 1_000_000, "voice_seconds": 300, "sms": 20,
                 "roaming_data_octets": 5000}
    assert int(before) + 30 * DAY <= expires <= int(after) + 30 * DAY

    again = ocsd("bundle", "purchase", "--imsi", imsi, "--bundle", code, "--ref", "p-1")
    assert again.code == 0, again.err
    assert again.out == (f"duplicate: ref p-1 was already applied to {imsi} (bundle id 2); nothing bought, "
                         "balance 4.00 EUR\n")
    assert state(ocsd, imsi)[0] == 400 and len(state(ocsd, imsi)[2]) == 1

    text = ocsd("bundle", "purchase", "--imsi", imsi, "--bundle", code)   # a fresh ref each time
    assert text.code == 2 and is_one_error_line(text, "insufficient_funds: available 400 needed 600")


def test_purchase_without_enough_balance_changes_nothing(ocsd):
    imsi, _ = provision(ocsd)
    cheap, dear = new_code(), new_code()
    create_bundle(ocsd, cheap, price=300, sms=10)
    create_bundle(ocsd, dear, price=800, data=10)
    topup(ocsd, imsi, 500)
    assert ocsd("bundle", "purchase", "--imsi", imsi, "--bundle", cheap).code == 0
    before = state(ocsd, imsi)
    assert before[0] == 200 and [b["bundle"] for b in before[2]] == [cheap]

    r = ocsd("bundle", "purchase", "--imsi", imsi, "--bundle", dear)
    assert r.code == 2 and is_one_error_line(r, "insufficient_funds: available 200 needed 800")
    j = ocsd("bundle", "purchase", "--imsi", imsi, "--bundle", dear, "--json")
    assert j.code == 2 and j.json == {"ok": False, "error": "insufficient_funds: available 200 needed 800"}
    assert state(ocsd, imsi) == before
    kinds = [e["kind"] for e in ocsd("ledger", "show", "--imsi", imsi, "--json").json]
    assert kinds == ["purchase", "topup"]

    unknown = ocsd("bundle", "purchase", "--imsi", imsi, "--bundle", "no-such-bundle")
    assert unknown.code == 2 and is_one_error_line(unknown, "unknown_bundle: no-such-bundle")
    assert state(ocsd, imsi) == before


# ---- bundle gift ----------------------------------------------------------------------------------------

def test_gift_sender_pays_recipient_gets_the_bundle(ocsd):
    sender, s_msisdn = provision(ocsd)
    recipient, r_msisdn = provision(ocsd)
    code = new_code()
    create_bundle(ocsd, code, price=700, data=2048, voice=60, priority=2, days=7)
    topup(ocsd, sender, 1000)
    topup(ocsd, recipient, 50)

    r = ocsd("bundle", "gift", "--msisdn", s_msisdn, "--to", r_msisdn, "--bundle", code, "--ref", "g-1", "--json")
    assert r.code == 0, r.err
    payer, gets = account_of(ocsd, sender), account_of(ocsd, recipient)
    assert r.json == {"ok": True, "gift_id": "g-1", "bundle": code, "from": payer, "to": gets,
                      "sender_entry": f"{payer}:2", "recipient_entry": f"{gets}:2", "bundle_id": 2,
                      "sender_balance": 300}
    s_balance, _, s_bundles = state(ocsd, sender)
    r_balance, _, r_bundles = state(ocsd, recipient)
    assert (s_balance, s_bundles) == (300, [])
    assert r_balance == 50
    assert [{k: v for k, v in b.items() if k != "expires_at"} for b in r_bundles] == [
        {"bundle": code, "priority": 2, "data_octets": 2048, "voice_seconds": 60, "sms": 0,
         "roaming_data_octets": 0}]

    retried = ocsd("bundle", "gift", "--from", s_msisdn, "--to-account", gets, "--bundle", code, "--ref", "g-1")
    assert retried.code == 0, retried.err
    assert state(ocsd, sender)[0] == 300 and len(state(ocsd, recipient)[2]) == 1

    r_ledger = ocsd("ledger", "show", "--imsi", recipient, "--json").json
    assert [(e["kind"], e["amount"], e["ref"]) for e in r_ledger][0] == ("gift_in", 0, "g-1")
    assert r_ledger[0]["detail"]["from"] == payer


def test_gift_without_enough_balance_changes_nothing(ocsd):
    sender, s_msisdn = provision(ocsd)
    recipient, r_msisdn = provision(ocsd)
    code = new_code()
    create_bundle(ocsd, code, price=700, data=2048)
    topup(ocsd, sender, 699)
    before = state(ocsd, sender), state(ocsd, recipient)

    r = ocsd("bundle", "gift", "--from", s_msisdn, "--to", r_msisdn, "--bundle", code)
    assert r.code == 2 and is_one_error_line(r, "insufficient_funds: available 699 needed 700")
    assert (state(ocsd, sender), state(ocsd, recipient)) == before
    assert [e["kind"] for e in ocsd("ledger", "show", "--imsi", sender, "--json").json] == ["topup"]
    assert ocsd("ledger", "show", "--imsi", recipient, "--json").json == []

    to_self = ocsd("bundle", "gift", "--from", s_msisdn, "--to", s_msisdn, "--bundle", code)
    assert to_self.code == 2 and is_one_error_line(to_self, "invalid_recipient: a gift to oneself")
    nobody = ocsd("bundle", "gift", "--from", s_msisdn, "--to", "79990000001", "--bundle", code)
    assert nobody.code == 2 and is_one_error_line(nobody, "unknown_subscriber: 79990000001")
    bad = ocsd("bundle", "gift", "--from", "12", "--to", r_msisdn, "--bundle", code)
    assert bad.code == 2 and bad.err.startswith("error: --from: must be 5 to 15 digits")
    assert (state(ocsd, sender), state(ocsd, recipient)) == before


# ---- tariff ---------------------------------------------------------------------------------------------

def tariff_of(ocsd, rg: int) -> dict | None:
    r = ocsd("tariff", "list", "--json")
    assert r.code == 0, r.err
    found = [t for t in r.json if t["rating_group"] == rg]
    return found[0] if found else None


def test_tariff_home_then_roaming(ocsd):
    rg = 100_000 + secrets.randbelow(10**6)
    first = ocsd("tariff", "set", "--rating-group", str(rg), "--unit", "octets", "--price-minor", "10",
                 "--per", "1000000", "--roaming")
    assert first.code == 2
    assert first.err.startswith(f"error: rating group {rg} has no tariff: set the home price first")
    assert first.err.count("\n") == 1
    assert tariff_of(ocsd, rg) is None

    home = ocsd("tariff", "set", "--rating-group", str(rg), "--unit", "octets", "--price-minor", "10",
                "--per", "1000000")
    assert (home.code, home.out) == (
        0, f"rating group {rg}: home 0.10 EUR, roaming 0.10 EUR per 1000000 octets\n"), home.err
    assert tariff_of(ocsd, rg) == {"rating_group": rg, "unit": "octets", "unit_size": 1000000, "price_home": 10,
                                   "price_roaming": 10, "currency": "EUR"}

    roam = ocsd("tariff", "set", "--rating-group", str(rg), "--unit", "octets", "--price-minor", "75",
                "--per", "1000000", "--roaming", "--json")
    assert roam.code == 0, roam.err
    assert roam.json == {"ok": True, "rating_group": rg, "unit": "octets", "unit_size": 1000000, "price_home": 10,
                         "price_roaming": 75, "currency": "EUR"}
    home_again = ocsd("tariff", "set", "--rating-group", str(rg), "--unit", "octets", "--price-minor", "12",
                      "--per", "1000000")
    assert home_again.code == 0, home_again.err
    assert tariff_of(ocsd, rg) == {"rating_group": rg, "unit": "octets", "unit_size": 1000000, "price_home": 12,
                                   "price_roaming": 75, "currency": "EUR"}

    other_unit = ocsd("tariff", "set", "--rating-group", str(rg), "--unit", "octets", "--price-minor", "1",
                      "--per", "1000", "--roaming")
    assert other_unit.code == 2 and other_unit.err.startswith(
        f"error: rating group {rg} is priced per 1000000 octets: give --unit octets --per 1000000")
    negative = ocsd("tariff", "set", "--rating-group", str(rg), "--unit", "octets", "--price-minor", "-1",
                    "--per", "1000000")
    assert negative.code == 2 and negative.err.startswith("error: ")
    zero_block = ocsd("tariff", "set", "--rating-group", str(rg), "--unit", "octets", "--price-minor", "1",
                      "--per", "0")
    assert zero_block.code == 2 and zero_block.err.startswith("error: ")
    assert tariff_of(ocsd, rg)["price_home"] == 12 and tariff_of(ocsd, rg)["price_roaming"] == 75

    text = ocsd("tariff", "list")
    lines = text.out.splitlines()
    assert lines[0].split() == ["rating_group", "unit", "unit_size", "price_home", "price_roaming", "currency"]
    assert [line.split() for line in lines if line.split()[0] == str(rg)] == [
        [str(rg), "octets", "1000000", "0.12", "0.75", "EUR"]]


# ---- ledger ---------------------------------------------------------------------------------------------

def test_ledger_show_lists_entries_summing_to_the_balance(ocsd):
    imsi, msisdn = provision(ocsd)
    friend, f_msisdn = provision(ocsd)
    code = new_code()
    create_bundle(ocsd, code, price=150, sms=5)
    before = int(time.time() * 1000)
    topup(ocsd, imsi, 1000, "l-1")
    topup(ocsd, imsi, 234, "l-2")
    assert ocsd("bundle", "purchase", "--imsi", imsi, "--bundle", code, "--ref", "l-3").code == 0
    assert ocsd("bundle", "gift", "--from", msisdn, "--to", f_msisdn, "--bundle", code, "--ref", "l-4").code == 0
    after = int(time.time() * 1000)

    r = ocsd("ledger", "show", "--msisdn", msisdn, "--json")
    assert r.code == 0, r.err
    entries = r.json
    account = account_of(ocsd, imsi)
    assert [(e["entry_id"], e["seq"], e["kind"], e["amount"], e["balance_after"], e["ref"]) for e in entries] == [
        (f"{account}:4", 4, "gift_out", -150, 934, "l-4"),
        (f"{account}:3", 3, "purchase", -150, 1084, "l-3"),
        (f"{account}:2", 2, "topup", 234, 1234, "l-2"),
        (f"{account}:1", 1, "topup", 1000, 1000, "l-1"),
    ]
    assert sum(e["amount"] for e in entries) == state(ocsd, imsi)[0] == 934
    for e in entries:
        assert set(e) == {"entry_id", "seq", "kind", "amount", "balance_after", "ref", "created_at", "detail"}
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", e["created_at"]), e["created_at"]
        ms = round(datetime.fromisoformat(e["created_at"].replace("Z", "+00:00")).timestamp() * 1000)
        assert before <= ms <= after
    assert entries[1]["detail"]["bundle"]["code"] == code and entries[1]["detail"]["name"] == f"Bundle {code}"
    assert entries[0]["detail"]["to"] == account_of(ocsd, friend)

    limited = ocsd("ledger", "show", "--imsi", imsi, "--limit", "2", "--json").json
    assert [e["seq"] for e in limited] == [4, 3]
    text = ocsd("ledger", "show", "--imsi", imsi)
    lines = text.out.splitlines()
    assert lines[0].split() == ["seq", "created_at", "kind", "amount", "balance_after", "ref", "currency"]
    assert [line.split()[2:] for line in lines[1:]] == [  # major units: 2 decimals for EUR
        ["gift_out", "-1.50", "9.34", "l-4", "EUR"], ["purchase", "-1.50", "10.84", "l-3", "EUR"],
        ["topup", "2.34", "12.34", "l-2", "EUR"], ["topup", "10.00", "10.00", "l-1", "EUR"]]
    fresh = ocsd("account", "create").out.strip()
    empty = ocsd("ledger", "show", "--account", fresh)
    assert (empty.code, empty.out) == (0, "no ledger entries\n")
    unknown = new_imsi()   # a SIM that is not provisioned points at no account
    r = ocsd("ledger", "show", "--imsi", unknown)
    assert r.code == 2 and is_one_error_line(r, f"unknown_subscriber: {unknown}")


# ---- rebuild --------------------------------------------------------------------------------------------

def delete_subscriber_keys(prefix: str, imsi: str) -> int:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(match=f"{prefix}:{{{imsi}}}:*", count=1000))
        if keys:
            client.delete(*keys)
        return len(keys)
    finally:
        client.close()


def delete_identity_keys(prefix: str, imsi: str, msisdn: str) -> int:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        return int(client.delete(f"{prefix}:imsi:{{{imsi}}}", f"{prefix}:msisdn:{{{msisdn}}}"))
    finally:
        client.close()


async def ledger_rows(dsn: str, imsi: str) -> list[tuple[int, str, int]]:
    conn = await asyncpg.connect(dsn)
    try:
        rows = await conn.fetch("SELECT seq, kind, amount FROM ledger WHERE account_id = $1 ORDER BY seq", imsi)
        return [(r["seq"], r["kind"], r["amount"]) for r in rows]
    finally:
        await conn.close()


async def account_count(dsn: str) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT count(*) FROM accounts"))
    finally:
        await conn.close()


def test_rebuild_restores_balance_and_bundles(ocsd, cli_env):
    imsi, msisdn = provision(ocsd)
    code = new_code()
    create_bundle(ocsd, code, price=400, data=123456, voice=77, sms=3, roaming=999, priority=5)
    topup(ocsd, imsi, 1500, "rb-1")
    assert ocsd("bundle", "purchase", "--imsi", imsi, "--bundle", code, "--ref", "rb-2").code == 0
    before = state(ocsd, imsi)
    assert before[0] == 1100 and len(before[2]) == 1
    account = account_of(ocsd, imsi)
    assert asyncio.run(ledger_rows(cli_env.dsn, account)) == []     # no writer ran: all still in the Redis stream

    assert delete_subscriber_keys(cli_env.prefix, account) >= 2      # acct and refs at least
    assert delete_identity_keys(cli_env.prefix, imsi, msisdn) == 2   # the IMSI/MSISDN -> account index too
    assert state(ocsd, imsi) == (0, "EUR", [])
    gone = ocsd("account", "show", "--imsi", imsi)
    assert gone.code == 2 and is_one_error_line(gone, f"unknown_subscriber: {imsi}")
    gone = ocsd("account", "show", "--account", account)
    assert gone.code == 2 and is_one_error_line(gone, f"unknown_account: {account}")

    r = ocsd("ledger", "rebuild-redis", "--msisdn", msisdn)
    assert (r.code, r.out) == (0, "wrote 2 pending ledger entries to PostgreSQL; rebuilt 1 account\n"), r.err
    assert asyncio.run(ledger_rows(cli_env.dsn, account)) == [(1, "topup", 1500), (2, "purchase", -400)]
    assert state(ocsd, imsi) == before

    # the references came back too: a retried top-up is still a duplicate, and numbering continues
    dup = ocsd("account", "topup", "--imsi", imsi, "--amount-minor", "1500", "--ref", "rb-1", "--json").json
    assert dup["duplicate"] is True and dup["balance"] == 1100
    more = ocsd("account", "topup", "--imsi", imsi, "--amount-minor", "5", "--ref", "rb-3", "--json").json
    assert (more["entry_id"], more["balance"], more["duplicate"]) == (f"{account}:3", 1105, False)
    entries = ocsd("ledger", "show", "--imsi", imsi, "--json").json
    assert [e["seq"] for e in entries] == [3, 2, 1] and sum(e["amount"] for e in entries) == 1105


def test_rebuild_all_accounts(ocsd, cli_env):
    a, _ = provision(ocsd)
    b, _ = provision(ocsd)
    topup(ocsd, a, 11)
    topup(ocsd, b, 22)
    delete_subscriber_keys(cli_env.prefix, account_of(ocsd, a))
    delete_subscriber_keys(cli_env.prefix, account_of(ocsd, b))
    r = ocsd("ledger", "rebuild-redis", "--json")
    assert r.code == 0, r.err
    assert r.json["ok"] is True and r.json["rebuilt"] == asyncio.run(account_count(cli_env.dsn))
    assert r.json["drained"] >= 2
    assert state(ocsd, a)[0] == 11 and state(ocsd, b)[0] == 22
    unknown = new_imsi()
    r = ocsd("ledger", "rebuild-redis", "--imsi", unknown)
    assert r.code == 2 and is_one_error_line(r, f"unknown_subscriber: {unknown}")


def test_a_fifteen_digit_msisdn_is_looked_up_as_an_msisdn(ocsd):
    """E.164 allows 15 digits: such an MSISDN must not be taken for an IMSI."""
    imsi = "00101" + f"{secrets.randbelow(10**10):010d}"
    msisdn = "1" + f"{secrets.randbelow(10**14):014d}"
    assert ocsd("subscriber", "add", "--imsi", imsi, "--msisdn", msisdn, "--k", K, "--opc", OPC).code == 0
    r = ocsd("account", "topup", "--msisdn", msisdn, "--amount-minor", "77", "--ref", "m15", "--json")
    assert r.code == 0, r.err
    assert (r.json["account"], r.json["msisdn"], r.json["balance"]) == (account_of(ocsd, imsi), msisdn, 77)


# ---- accounts by id -------------------------------------------------------------------------------------

def test_account_create_prints_its_id_and_sims_share_it(ocsd):
    generated = ocsd("account", "create")
    assert generated.code == 0 and re.fullmatch(r"a[0-9a-f]{20}\n", generated.out), generated.err
    fleet = "fleet-" + secrets.token_hex(3)
    r = ocsd("account", "create", "--account", fleet, "--currency", "KES", "--json")
    assert r.code == 0 and r.json == {"ok": True, "account": fleet, "currency": "KES"}, r.err
    again = ocsd("account", "create", "--account", fleet)
    assert again.code == 2 and is_one_error_line(again, f"account_exists: {fleet}")
    bad = ocsd("account", "create", "--account", "has:colon")
    assert bad.code == 2 and "account id 'has:colon'" in bad.err

    sims = []
    for _ in range(2):
        imsi = new_imsi()
        added = ocsd("subscriber", "add", "--imsi", imsi, "--msisdn", msisdn_of(imsi), "--k", K, "--opc", OPC,
                     "--account", fleet, "--json")
        assert added.code == 0 and added.json["account"] == fleet, added.err
        sims.append(imsi)
    assert ocsd("account", "topup", "--imsi", sims[0], "--amount-minor", "300", "--ref", "f-1").code == 0
    assert ocsd("account", "topup", "--msisdn", msisdn_of(sims[1]), "--amount-minor", "200", "--ref", "f-2").code == 0
    shown = ocsd("account", "show", "--account", fleet, "--json").json
    assert (shown["balance"], shown["currency"]) == (500, "KES")
    assert shown["sims"] == [{"imsi": i, "msisdn": msisdn_of(i)} for i in sorted(sims)]
    ledger = ocsd("ledger", "show", "--imsi", sims[1], "--json").json
    assert [(e["entry_id"], e["ref"]) for e in ledger] == [(f"{fleet}:2", "f-2"), (f"{fleet}:1", "f-1")]
    # deleting one SIM keeps the shared account; the last one takes it (it still holds money: --force)
    assert ocsd("subscriber", "delete", sims[0]).code == 0
    assert ocsd("account", "show", "--account", fleet, "--json").json["balance"] == 500
    assert ocsd("subscriber", "delete", sims[1]).code == 2
    assert ocsd("subscriber", "delete", sims[1], "--force").code == 0
    gone = ocsd("account", "show", "--account", fleet)
    assert gone.code == 2 and is_one_error_line(gone, f"unknown_account: {fleet}")


def test_subscriber_add_to_an_unknown_account_is_refused(ocsd):
    imsi = new_imsi()
    r = ocsd("subscriber", "add", "--imsi", imsi, "--msisdn", msisdn_of(imsi), "--k", K, "--opc", OPC,
             "--account", "no-such-account")
    assert r.code == 2 and is_one_error_line(r, "unknown_account: no-such-account")
    assert ocsd("subscriber", "show", imsi).code == 2


# ---- currencies and references --------------------------------------------------------------------------

def test_currencies_must_be_iso_4217(ocsd):
    for argv in (["tariff", "set", "--rating-group", "77", "--unit", "octets", "--price-minor", "1", "--per", "1",
                  "--currency", "XYZ"],
                 ["bundle", "create", "--code", new_code(), "--name", "n", "--type", "sms", "--sms", "1",
                  "--validity-days", "1", "--priority", "1", "--price-minor", "1", "--currency", "ABC"],
                 ["account", "create", "--currency", "eur"]):
        r = ocsd(*argv)
        assert r.code == 2 and r.out == "" and r.err.count("\n") == 1 and "not an ISO 4217 code" in r.err, r.err
    assert not [t for t in ocsd("tariff", "list", "--json").json if t["rating_group"] == 77]


@pytest.mark.parametrize("bad", ["r" * 129, "bell\x07", "two\nlines"])
def test_references_are_bounded(ocsd, bad):
    imsi, msisdn = provision(ocsd)
    for argv in (["account", "topup", "--imsi", imsi, "--amount-minor", "5", "--ref", bad],
                 ["bundle", "purchase", "--imsi", imsi, "--bundle", "any", "--ref", bad],
                 ["bundle", "gift", "--imsi", imsi, "--to", msisdn, "--bundle", "any", "--ref", bad]):
        r = ocsd(*argv)
        assert r.code == 2 and is_one_error_line(r, "--ref: a reference is 1 to 128 printable characters"), r.err
    assert ocsd("account", "topup", "--imsi", imsi, "--amount-minor", "5", "--ref", "r" * 128).code == 0
    assert state(ocsd, imsi)[0] == 5
