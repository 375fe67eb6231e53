"""The README's provisioning examples run as written: each `ocsd ...` line of the block under "Provisioning
and money", with `-c conf/demo.toml` pointed at a test database and key prefix, exits 0, and the balance they
leave is what the README's numbers say."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

README = Path(__file__).resolve().parents[3] / "README.md"


def example_lines() -> list[str]:
    text = README.read_text()
    section = text[text.index("## Provisioning and money"):]
    block = re.search(r"```sh\n(.*?)```", section, re.S)
    assert block is not None, "the section has no sh block"
    return [line for line in block[1].splitlines() if line.startswith("ocsd ")]


def test_the_examples_are_there():
    lines = example_lines()
    assert len(lines) >= 8
    assert all("-c conf/demo.toml" in line for line in lines)


def test_readme_examples_run_as_written(ocsd, cli_env):
    # the demo IMSI may exist from an earlier run of this module's database: start clean
    ocsd("subscriber", "delete", "001010000000001", "--force")
    ocsd("subscriber", "delete", "001010000000002", "--force")   # the last SIM of family-1 takes the account
    outputs = []
    for line in example_lines():
        argv = shlex.split(line)[1:]
        i = argv.index("-c")
        del argv[i:i + 2]
        r = ocsd(*argv)
        assert r.code == 0, f"{line}\n{r.err}"
        outputs.append(r.out)
    shown = [o for line, o in zip(example_lines(), outputs, strict=True) if "subscriber show" in line][0]
    import json

    view = json.loads(shown)
    assert view["balance"] == 5000 - 1500
    assert [b["bundle"] for b in view["bundles"]] == ["d1g"]
    assert view["bundles"][0]["data_octets"] == 1_000_000_000
    shared = json.loads(outputs[-1])   # the second SIM joined the same account: one wallet, two SIMs
    assert (shared["account"], shared["balance"]) == ("family-1", 5000 - 1500)
    assert [sim["imsi"] for sim in shared["sims"]] == ["001010000000001", "001010000000002"]
