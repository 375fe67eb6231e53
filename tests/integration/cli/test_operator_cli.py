"""The CLI an operator expects (issue 13 point 4): money in major units for currencies with 0, 2 and 3
decimals (`--amount 15.00` or `--amount-minor 1500`, integers of minor units under --json), `account adjust`
and `account refund` with --ref and a reason, in the ledger; -c and --json before or after the subcommand;
--json errors, click's usage errors included (the real `ocsd` entry point, same exit status)."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys

from tests.support.daemon_process import ROOT


def new_account(ocsd, currency: str) -> str:
    r = ocsd("account", "create", "--currency", currency, "--json")
    assert r.code == 0, r.err
    return str(r.json["account"])


def test_money_in_major_units_for_0_2_and_3_decimals(ocsd):
    for currency, given, minor, shown, doubled in (("JPY", "1500", 1500, "1500 JPY", "3000 JPY"),
                                                   ("USD", "15.00", 1500, "15.00 USD", "30.00 USD"),
                                                   ("KWD", "1.5", 1500, "1.500 KWD", "3.000 KWD")):
        acct = new_account(ocsd, currency)
        r = ocsd("account", "topup", "--account", acct, "--amount", given, "--ref", "t1")
        assert (r.code, r.out) == (0, f"topped up {acct} by {shown}: balance {shown}\n"), r.err
        j = ocsd("account", "topup", "--account", acct, "--amount-minor", str(minor), "--ref", "t2", "--json").json
        assert (j["amount"], j["balance"], j["currency"]) == (minor, 2 * minor, currency)  # integers, minor units
        assert f"balance   {doubled}\n" in ocsd("account", "show", "--account", acct).out
    acct = new_account(ocsd, "USD")
    too_fine = ocsd("account", "topup", "--account", acct, "--amount", "1.005", "--ref", "x")
    assert too_fine.code == 2 and too_fine.err == "error: --amount: '1.005': USD has 2 decimals\n"
    both = ocsd("account", "topup", "--account", acct, "--amount", "1", "--amount-minor", "100", "--ref", "x")
    assert both.code == 2 and "not both" in both.err
    neither = ocsd("account", "topup", "--account", acct, "--ref", "x", "--json")
    assert neither.code == 2 and neither.json["ok"] is False and "--amount" in neither.json["error"]


def test_adjust_and_refund_are_in_the_ledger_with_their_reason(ocsd):
    acct = new_account(ocsd, "EUR")
    assert ocsd("account", "topup", "--account", acct, "--amount", "10.00", "--ref", "t").code == 0
    r = ocsd("account", "adjust", "--account", acct, "--amount", "-2.50", "--ref", "a1", "--reason", "double charge")
    assert (r.code, r.out) == (0, f"adjusted {acct} by -2.50 EUR: balance 7.50 EUR\n"), r.err
    r = ocsd("account", "refund", "--account", acct, "--amount", "1.25", "--ref", "r1", "--reason", "outage",
             "--json")
    assert r.code == 0 and (r.json["balance"], r.json["reason"]) == (875, "outage")
    again = ocsd("account", "refund", "--account", acct, "--amount", "1.25", "--ref", "r1", "--reason", "outage",
                 "--json")
    assert again.json["duplicate"] is True and again.json["balance"] == 875
    no_reason = ocsd("account", "adjust", "--account", acct, "--amount", "1", "--ref", "a2")
    assert no_reason.code == 2
    overdraw = ocsd("account", "adjust", "--account", acct, "--amount", "-100", "--ref", "a3", "--reason", "x")
    assert overdraw.code == 2
    entries = ocsd("ledger", "show", "--account", acct, "--json").json
    assert [(e["kind"], e["amount"], e["ref"], e["detail"].get("reason")) for e in entries] == [
        ("refund", 125, "r1", "outage"), ("adjust", -250, "a1", "double charge"), ("topup", 1000, "t", None)]


def real_ocsd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from ocs.cli import main; main()", *args], capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=60, cwd=ROOT)


def test_options_before_or_after_the_subcommand_and_json_errors(ocsd, cli_env):
    acct = new_account(ocsd, "EUR")
    config = str(cli_env.config)
    after = real_ocsd("account", "show", "--account", acct, "-c", config, "--json")
    before = real_ocsd("-c", config, "--json", "account", "show", "--account", acct)
    mixed = real_ocsd("--json", "account", "show", "-c", config, "--account", acct)
    assert after.returncode == before.returncode == mixed.returncode == 0, before.stderr
    assert json.loads(after.stdout) == json.loads(before.stdout) == json.loads(mixed.stdout)
    missing = real_ocsd("--json", "-c", config, "account", "show", "--account", "nobody-" + secrets.token_hex(3))
    assert missing.returncode == 2 and json.loads(missing.stdout)["ok"] is False and not missing.stderr
    usage = real_ocsd("--json", "account", "topup", "--no-such-option")
    assert usage.returncode == 2 and json.loads(usage.stdout) == {"ok": False,
                                                                  "error": "No such option '--no-such-option'."}
    plain = real_ocsd("account", "topup", "--no-such-option")
    assert plain.returncode == 2 and "No such option" in plain.stderr and not plain.stdout
    bad_config = real_ocsd("config", "check", "-c", "/nonexistent.toml", "--json")
    assert bad_config.returncode == 2 and json.loads(bad_config.stdout)["ok"] is False
