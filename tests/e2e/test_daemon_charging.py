"""The daemon's background charging work: the ledger writer moves entries to PostgreSQL while it runs and
flushes them when it stops; a start without keys or without PostgreSQL fails with a clear status."""

from __future__ import annotations

import asyncio
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import asyncpg
import pytest

from ocs.services.charging import ChargingService
from tests.integration.conftest import REDIS_URL, create_database, drop_database
from tests.support.daemon_process import ROOT, DaemonProcess, backends_config, free_port, write_config
from tests.support.redis_cluster import CLUSTER_URLS, delete_prefix, store_for_url

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


URLS: dict[str, str] = {}  # key prefix -> the Redis (or test Redis Cluster seed) of the test using it


def config_text(dsn: str, prefix: str, keys: str = "demo = true") -> str:
    url = URLS.get(prefix, REDIS_URL)
    return (backends_config(url, prefix, dsn, keys=keys, cluster=url in CLUSTER_URLS)
            + '\n[charging]\ncurrency = "EUR"\n')


@pytest.fixture(params=["redis", "cluster"])
def env(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str, str]]:
    """A database and a key prefix, on the shared Redis and on a 3-primary Redis Cluster (issue 19)."""
    name = "ocsd_e2e_" + secrets.token_hex(5)
    dsn = asyncio.run(create_database(name))
    prefix = "ocse2e-" + secrets.token_hex(5)
    URLS[prefix] = request.getfixturevalue("redis_cluster").url if request.param == "cluster" else REDIS_URL
    try:
        yield name, dsn, prefix
    finally:
        asyncio.run(drop_database(name))
        delete_prefix(URLS.pop(prefix), prefix)


async def top_ups(dsn: str, prefix: str, imsi: str, refs: list[str]) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute("INSERT INTO subscribers (imsi, msisdn, k_enc, opc_enc) VALUES ($1, $2, $3, $4) "
                           "ON CONFLICT DO NOTHING", imsi, "7" + imsi[-10:], b"\x00" * 44, b"\x00" * 44)
    finally:
        await conn.close()
    store = store_for_url(URLS.get(prefix, REDIS_URL), prefix)
    await store.start()
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        service = ChargingService(store, pool)
        await service.open_account("EUR", imsi, exist_ok=True)   # the account id is the IMSI here
        for ref in refs:
            await service.top_up(imsi, 100, ref)
    finally:
        await pool.close()
        await store.close()


async def ledger_rows(dsn: str, imsi: str) -> list[tuple[int, int]]:
    conn = await asyncpg.connect(dsn)
    try:
        return [(r["seq"], r["amount"]) for r in
                await conn.fetch("SELECT seq, amount FROM ledger WHERE account_id = $1 ORDER BY seq", imsi)]
    finally:
        await conn.close()


def test_ledger_reaches_postgres_while_running_and_at_stop(tmp_path, env):
    _, dsn, prefix = env
    config = write_config(tmp_path / "ocsd.toml", peers=["mme.test"], diameter_port=free_port(),
                          admin_port=free_port(), applications=("s6a",), extra=config_text(dsn, prefix))
    daemon = DaemonProcess(config, module="ocsd")
    daemon.start()
    imsi = "00101" + f"{secrets.randbelow(10**10):010d}"
    try:
        asyncio.run(top_ups(dsn, prefix, imsi, ["a", "b", "c"]))
        deadline = time.monotonic() + 15
        while len(asyncio.run(ledger_rows(dsn, imsi))) < 3 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert asyncio.run(ledger_rows(dsn, imsi)) == [(1, 100), (2, 100), (3, 100)]
        asyncio.run(top_ups(dsn, prefix, imsi, ["d"]))   # written by the running writer or by the flush at stop
    finally:
        assert daemon.stop() == 0
    assert asyncio.run(ledger_rows(dsn, imsi)) == [(1, 100), (2, 100), (3, 100), (4, 100)]


def run_ocsd(config: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", "from ocs.cli import main; main()", "run", "-c", str(config)],
                          cwd=ROOT, capture_output=True, text=True, timeout=60)


def test_start_without_keys_exits_2(tmp_path, env):
    _, dsn, prefix = env
    config = write_config(tmp_path / "ocsd.toml", peers=["mme.test"], diameter_port=free_port(),
                          admin_port=free_port(), applications=("s6a",),
                          extra=config_text(dsn, prefix, keys="demo = false"))
    done = run_ocsd(config)
    assert done.returncode == 2
    assert "start-failed" in done.stderr and "keys.file" in done.stderr


def test_start_without_postgres_exits_1(tmp_path, env):
    _, dsn, prefix = env
    base, _, _ = dsn.rpartition("/")
    config = write_config(tmp_path / "ocsd.toml", peers=["mme.test"], diameter_port=free_port(),
                          admin_port=free_port(), applications=("s6a",),
                          extra=config_text(base + "/ocsd_no_such_database", prefix))
    done = run_ocsd(config)
    assert done.returncode == 1
    assert "start-failed" in done.stderr and "ocsd_no_such_database" in done.stderr
