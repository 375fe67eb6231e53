"""Metrics by convention (issue 13 point 5), scraped from the real daemon: every family is named `ocsd_*`,
`ocsd_build_info` carries the version, each configured peer has its state series from start-up (before any
connection), and an Experimental-Result is counted by its number and vendor (an AIR for an unknown IMSI:
5001 DIAMETER_ERROR_USER_UNKNOWN, 3GPP vendor 10415, TS 29.272 §7.4.3), a Result-Code with vendor 0."""

from __future__ import annotations

import asyncio
import secrets
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ocs import __version__
from tests.integration.conftest import REDIS_URL, create_database, drop_database
from tests.support.daemon_process import DaemonProcess, backends_config, free_port, write_config
from tests.support.raw_s6a import Mme, provision

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


def scrape(admin: int) -> tuple[list[str], Samples]:
    with urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=5) as r:
        text = r.read().decode()
    names, samples = [], {}
    for family in text_string_to_metric_families(text):
        names.append(family.name)
        for s in family.samples:
            samples.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return names, samples


def test_metric_names_build_info_peer_states_and_numeric_result_codes(tmp_path: Path):
    name = "ocsd_e2e_" + secrets.token_hex(5)
    dsn = asyncio.run(create_database(name))
    admin, port = free_port(), free_port()
    config = write_config(tmp_path / "ocsd.toml", peers=["mme.test", "pgw.test"], diameter_port=port,
                          admin_port=admin, applications=("s6a",),
                          extra=backends_config(REDIS_URL, "ocsm" + secrets.token_hex(3), dsn)
                          + '\n[auc]\nhome_plmns = ["00101"]\n')
    daemon = DaemonProcess(config, module="ocsd")
    imsi = f"00101{secrets.randbelow(10**10):010d}"
    try:
        asyncio.run(provision(dsn, imsi))
        daemon.start()
        names, s = scrape(admin)
        assert names and all(n.startswith("ocsd_") for n in names), [n for n in names if not n.startswith("ocsd_")]
        assert s["ocsd_build_info"][(("python", s_python(s)), ("version", __version__))] == 1
        for peer in ("mme.test", "pgw.test"):  # from start-up, before any connection
            assert s["ocsd_diameter_peer_state"][(("peer", peer), ("state", "Closed"))] == 1
            assert s["ocsd_diameter_peer_state"][(("peer", peer), ("state", "R-Open"))] == 0
            assert s["ocsd_diameter_peer_up"][(("peer", peer),)] == 0
        assert s["ocsd_ledger_lag_seconds"][()] == 0

        async def traffic() -> None:
            mme = await Mme.connect(port)
            ok = await mme.burst(imsi, 2)
            assert {code for _, code, _ in ok.values()} == {2001}
            unknown = await mme.burst("001019999999999", 1)
            assert {code for _, code, _ in unknown.values()} == {5001}
            _, after = scrape(admin)
            assert after["ocsd_diameter_peer_state"][(("peer", "mme.test"), ("state", "R-Open"))] == 1
            assert after["ocsd_diameter_peer_up"][(("peer", "mme.test"),)] == 1
            mme.writer.close()

        asyncio.run(traffic())
        _, s = scrape(admin)
        air = s["ocsd_diameter_requests_total"]
        assert air[(("application", "s6a"), ("command", "AIR"), ("result_code", "2001"), ("vendor", "0"))] == 2
        assert air[(("application", "s6a"), ("command", "AIR"), ("result_code", "5001"), ("vendor", "10415"))] == 1
        assert s["ocsd_store_call_seconds_count"][(("store", "redis"),)] >= 3
    finally:
        daemon.kill()
        asyncio.run(drop_database(name))


def s_python(samples: Samples) -> str:
    (labels,) = samples["ocsd_build_info"]
    return dict(labels)["python"]
