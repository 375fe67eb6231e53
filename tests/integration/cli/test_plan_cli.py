"""`ocsd plan create|list|show` and `ocsd subscriber set IMSI --plan CODE` (issue 10 point 1)."""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

from tests.integration.cli.test_subscriber_admin_cli import add, fetch, new_imsi

EXAMPLE_RULES = Path(__file__).resolve().parents[3] / "conf" / "gx_rules.example.toml"


def test_plan_create_list_show(ocsd, cli_env):
    code = "p-" + secrets.token_hex(4)
    r = ocsd("plan", "create", "--code", code, "--name", "Basic", "--ambr-ul", "2000000", "--ambr-dl", "10000000",
             "--qci", "9", "--arp", "8", "--rules", str(EXAMPLE_RULES), "--throttle-ul", "64000",
             "--throttle-dl", "128000", "--json")
    assert r.code == 0, r.err
    assert (r.json["ambr_dl"], r.json["throttle_dl"], len(r.json["rules"])) == (10000000, 128000, 2)
    shown = ocsd("plan", "show", code, "--json")
    assert shown.code == 0, shown.err
    voip = shown.json["rules"][0]
    assert voip == {"name": "voip", "flows": ["permit out 17 from 10.45.0.1 5060 to any",
                                              "permit in 17 from any to 10.45.0.1 5060"],
                    "flow_status": "enabled", "qci": 1, "mbr_ul": 128000, "mbr_dl": 128000, "gbr_ul": 64000,
                    "gbr_dl": 64000, "precedence": 10, "rating_group": 20, "arp": 2,
                    "pre_emption_capability": "enabled", "pre_emption_vulnerability": "disabled",
                    "online": True, "offline": False}
    assert shown.json["pre_emption_capability"] == "disabled" and shown.json["arp"] == 8
    text = ocsd("plan", "show", code)
    assert "rule voip:" in text.out and "rule zero-rated-portal:" in text.out
    listed = {p["code"]: p for p in ocsd("plan", "list", "--json").json}
    assert listed[code]["rules"] == 2 and listed[code]["qci"] == 9
    assert code in ocsd("plan", "list").out
    capped = ocsd("plan", "create", "--code", code + "-m", "--name", "Capped", "--ambr-ul", "1000", "--ambr-dl",
                  "1000", "--qci", "9", "--arp", "8", "--monthly-octets", "5000000000", "--monitoring-key", "mk",
                  "--json")
    assert capped.code == 0, capped.err
    shown = ocsd("plan", "show", code + "-m", "--json").json
    assert (shown["monthly_octets"], shown["monitoring_key"]) == (5_000_000_000, "mk")
    assert ocsd("plan", "create", "--code", code + "-x", "--name", "X", "--ambr-ul", "1", "--ambr-dl", "1",
                "--qci", "9", "--arp", "8", "--monthly-octets", "5").code == 2  # without a Monitoring-Key
    again = ocsd("plan", "create", "--code", code, "--name", "Again", "--ambr-ul", "1", "--ambr-dl", "1",
                 "--qci", "9", "--arp", "8", "--json")
    assert again.code == 2 and "exists" in again.json["error"]
    assert ocsd("plan", "show", "nope-" + code).code == 2


def test_plan_create_refuses_bad_input(ocsd, cli_env, tmp_path):
    base = ("plan", "create", "--code", "bad-" + secrets.token_hex(4), "--name", "Bad", "--ambr-ul", "1000",
            "--ambr-dl", "1000", "--qci", "9", "--arp", "8")
    half = ocsd(*base, "--throttle-ul", "100")
    assert half.code == 2 and "throttle" in half.err
    rules = tmp_path / "rules.toml"
    rules.write_text('[[rule]]\nname = "x"\nflow_status = "sideways"\n')
    bad = ocsd(*base, "--rules", str(rules), "--json")
    assert bad.code == 2 and "flow_status" in bad.json["error"]
    rules.write_text('[[rule]]\nname = "ocsd-throttle"\n')
    assert ocsd(*base, "--rules", str(rules)).code == 2
    assert ocsd(*base, "--rules", str(tmp_path / "missing.toml")).code == 2
    assert ocsd("plan", "show", base[3]).code == 2  # nothing was created


def test_subscriber_set_plan(ocsd, cli_env):
    code = "p-" + secrets.token_hex(4)
    assert ocsd("plan", "create", "--code", code, "--name", "Gold", "--ambr-ul", "5000000", "--ambr-dl",
                "50000000", "--qci", "8", "--arp", "5").code == 0
    imsi = new_imsi()
    add(ocsd, imsi)
    r = ocsd("subscriber", "set", imsi, "--plan", code, "--json")
    assert r.code == 0, r.err
    assert r.json["changed"] == {"plan_code": {"from": None, "to": code}}
    assert ocsd("subscriber", "set", imsi, "--plan", code, "--json").json["changed"] == {}
    unknown = ocsd("subscriber", "set", imsi, "--plan", "missing-" + code, "--json")
    assert unknown.code == 2 and unknown.json["error"] == f"no plan missing-{code}"
    rows = asyncio.run(fetch(cli_env.dsn, "SELECT plan_code FROM subscribers WHERE imsi = $1", imsi))
    assert rows[0]["plan_code"] == code
    actions = asyncio.run(fetch(cli_env.dsn, "SELECT action FROM audit WHERE target = $1 ORDER BY id", imsi))
    assert [a["action"] for a in actions][-1] == "subscriber.set"
