"""The test client in the box (issue 13 point 3): the real `ocsd diameter ...` CLI against the real daemon as
HSS gets a CEA, a DWA, an AIA with vectors (secrets redacted) and a ULA; `--count/--rate` summarise; a CCR to a
daemon without Gy shows the refused CEA (5010, RFC 6733 §5.3) and exits 2; no daemon: one line, exit 1."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from ocs.cli.diameter import plmn_id
from tests.integration.conftest import REDIS_URL, create_database, drop_database
from tests.support.daemon_process import ROOT, DaemonProcess, backends_config, free_port, write_config
from tests.support.raw_s6a import provision

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@dataclass
class Hss:
    config: Path
    peer: str
    imsi: str


@pytest.fixture(scope="module")
def hss(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hss]:
    tmp = tmp_path_factory.mktemp("client")
    name = "ocsd_e2e_" + secrets.token_hex(5)
    dsn = asyncio.run(create_database(name))
    port = free_port()
    config = write_config(tmp / "ocsd.toml", peers=["mme.test"], diameter_port=port, admin_port=free_port(),
                          applications=("s6a",), extra=backends_config(REDIS_URL, "ocsc" + secrets.token_hex(3), dsn)
                          + '\n[auc]\nhome_plmns = ["00101"]\n')
    daemon = DaemonProcess(config, module="ocsd")
    imsi = f"00101{secrets.randbelow(10**10):010d}"
    try:
        asyncio.run(provision(dsn, imsi))
        daemon.start()
        yield Hss(config, f"127.0.0.1:{port}", imsi)
    finally:
        daemon.kill()
        asyncio.run(drop_database(name))


def ocsd(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from ocs.cli import main; main()", *args], capture_output=True,
                          text=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), timeout=60, cwd=ROOT)


def names(tree: list[list[object]]) -> dict[str, object]:
    out: dict[str, object] = {}
    for name, value in tree:
        out.setdefault(str(name), value)
        if isinstance(value, list):
            for k, v in names(value).items():  # type: ignore[arg-type]
                out.setdefault(k, v)
    return out


def test_cer_and_dwr(hss: Hss):
    done = ocsd("diameter", "cer", "-c", str(hss.config), "--peer", hss.peer, "--json")
    assert done.returncode == 0, done.stderr
    cea = json.loads(done.stdout)
    assert cea["command"] == "Capabilities-Exchange" and cea["result_code"] == 2001
    assert names(cea["avps"])["Origin-Host"] == "ocsd.test"
    text = ocsd("diameter", "cer", "-c", str(hss.config), "--peer", hss.peer)
    assert text.returncode == 0 and text.stdout.startswith("Capabilities-Exchange-Answer: result 2001")
    done = ocsd("diameter", "dwr", "-c", str(hss.config), "--peer", hss.peer, "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["command"] == "Device-Watchdog"


def test_air_gets_vectors_redacted_and_ulr(hss: Hss):
    done = ocsd("diameter", "air", "-c", str(hss.config), "--peer", hss.peer, "--imsi", hss.imsi, "--vectors", "2",
                "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    aia = json.loads(done.stdout)
    assert aia["command"] == "Authentication-Information" and aia["result_code"] == 2001
    info = names(aia["avps"])
    assert info["KASME"] == info["RAND"] == info["XRES"] == info["AUTN"] == "***"
    assert sum(1 for line in ocsd("diameter", "air", "-c", str(hss.config), "--peer", hss.peer, "--imsi", hss.imsi,
                                  "--vectors", "2").stdout.splitlines() if line.strip() == "E-UTRAN-Vector:") == 2
    done = ocsd("diameter", "ulr", "-c", str(hss.config), "--peer", hss.peer, "--imsi", hss.imsi, "--json")
    assert done.returncode == 0 and json.loads(done.stdout)["result_code"] == 2001


def test_count_and_rate_summarise(hss: Hss):
    done = ocsd("diameter", "air", "-c", str(hss.config), "--peer", hss.peer, "--imsi", hss.imsi,
                "--count", "20", "--rate", "200", "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    s = json.loads(done.stdout)
    assert s["sent"] == s["answered"] == 20 and s["result_codes"] == {"2001": 20}
    assert 0 < s["latency_ms"]["min"] <= s["latency_ms"]["p50"] <= s["latency_ms"]["max"]
    unknown = ocsd("diameter", "air", "-c", str(hss.config), "--peer", hss.peer, "--imsi", "001019999999999",
                   "--json")
    assert unknown.returncode == 2
    assert (json.loads(unknown.stdout)["result_code"], json.loads(unknown.stdout)["vendor"]) == (5001, 10415)


def test_ccr_to_a_daemon_without_gy_and_no_daemon(hss: Hss):
    done = ocsd("diameter", "ccr", "-c", str(hss.config), "--peer", hss.peer, "--type", "initial",
                "--msisdn", "15551230001", "--rating-group", "10", "--requested", "1000", "--json")
    assert done.returncode == 2
    cea = json.loads(done.stdout)
    assert cea["command"] == "Capabilities-Exchange" and cea["result_code"] == 5010
    gone = ocsd("diameter", "cer", "-c", str(hss.config), "--peer", f"127.0.0.1:{free_port()}")
    assert gone.returncode == 1 and gone.stderr.startswith("error: no answer from") and not gone.stdout


def test_plmn_identity_encoding():
    # TS 24.008 §10.5.1.13: MCC 001 MNC 01 -> 00 f1 10; MCC 310 MNC 410 -> 13 00 14
    assert plmn_id("00101") == bytes.fromhex("00f110")
    assert plmn_id("310410") == bytes.fromhex("130014")
