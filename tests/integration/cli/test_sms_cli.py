"""`ocsd sms ...` (issue 18): tariff set/list with a volume tier, sender add/approve/reject/list, account set,
dispatch create/show, a charge, message show; refusals end with a message and a non-zero exit."""

from __future__ import annotations

import secrets


def test_sms_commands(ocsd, cli_env):
    plan = "p-" + secrets.token_hex(3)
    assert ocsd("sms", "tariff", "set", "--plan", plan, "--prefix", "254", "--price", "5").code == 0
    r = ocsd("sms", "tariff", "set", "--plan", plan, "--prefix", "254", "--price", "2", "--from-count", "2", "--json")
    assert r.code == 0 and r.json["from_count"] == 2
    listed = ocsd("sms", "tariff", "list", "--plan", plan, "--json").json
    assert [(t["match"], t["from_count"], t["price"]) for t in listed] == [("254", 0, 5), ("254", 2, 2)]
    assert ocsd("sms", "tariff", "set", "--plan", plan, "--price", "1").code != 0  # neither prefix nor mccmnc

    acct = ocsd("account", "create", "--json").json["account"]
    assert ocsd("account", "topup", "--account", acct, "--amount-minor", "100", "--ref", "t").code == 0
    assert ocsd("sms", "account", "set", "--account", acct, "--plan", plan, "--json").json["plan"] == plan
    assert ocsd("sms", "sender", "add", "--account", acct, "--sender", "ACME", "--json").json["status"] == "pending"
    refused = ocsd("sms", "charge", "--account", acct, "--message-id", "m1", "--to", "+254700000001",
                   "--sender", "ACME")
    assert refused.code != 0 and "sender_not_approved" in refused.err
    assert ocsd("sms", "sender", "approve", "--account", acct, "--sender", "ACME").code == 0
    assert ocsd("sms", "sender", "add", "--account", acct, "--sender", "SPAM").code == 0
    assert ocsd("sms", "sender", "reject", "--account", acct, "--sender", "SPAM").code == 0
    senders = ocsd("sms", "sender", "list", "--account", acct, "--json").json
    assert {s["sender_id"]: s["status"] for s in senders} == {"ACME": "approved", "SPAM": "rejected"}

    d = ocsd("sms", "dispatch", "create", "--account", acct, "--name", "promo", "--json").json["dispatch_id"]
    prices = [ocsd("sms", "charge", "--account", acct, "--message-id", f"m{i}", "--to", "254700000001",
                   "--parts", "2", "--sender", "ACME", "--dispatch", d, "--json").json["price"] for i in (1, 2)]
    assert prices == [10, 4]  # the third and fourth parts of the month at the tier price
    again = ocsd("sms", "charge", "--account", acct, "--message-id", "m1", "--to", "254700000001", "--json").json
    assert again["duplicate"] is True and again["price"] == 10
    shown = ocsd("sms", "dispatch", "show", d, "--json").json
    assert (shown["sent"], shown["parts"], shown["cost"], shown["pending"]) == (2, 4, 14, 2)
    assert "sent:" in ocsd("sms", "dispatch", "show", d).out
    record = ocsd("sms", "message", "show", "m2", "--json").json
    assert (record["account"], record["price"], record["sender"], record["submit"]) == (acct, 4, "ACME", "pending")
    assert ocsd("sms", "message", "show", "nope").code != 0
    poor = ocsd("sms", "charge", "--account", acct, "--message-id", "m3", "--to", "254700000001", "--parts", "255")
    assert poor.code != 0 and "insufficient_funds" in poor.err


def test_readme_sms_examples_run_as_written(ocsd, cli_env):
    import json
    import re
    import shlex
    from pathlib import Path

    text = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    section = text[text.index("## SMS billing (Jasmin)"):]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None
    outputs = []
    for line in [x for x in block[1].splitlines() if x.startswith("ocsd ")]:
        argv = shlex.split(line)[1:]
        i = argv.index("-c")
        del argv[i:i + 2]
        r = ocsd(*argv)
        if "account create" in line and r.code != 0:
            continue  # the account exists from an earlier run of this module's database
        assert r.code == 0, f"{line}\n{r.err}"
        outputs.append(r.out)
    shown = json.loads(outputs[-1])
    assert shown["sent"] >= 1 and shown["cost"] % 6 == 0  # two parts to 25471 at 3
