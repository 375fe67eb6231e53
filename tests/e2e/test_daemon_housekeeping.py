"""Issue 12 point 8: the daemon runs the ledger writer and housekeeping whenever [redis] and [postgres] are
configured, whatever applications are enabled: with `applications = []` (and no key file: nothing is sealed)
money moved by the CLI still reaches PostgreSQL."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from tests.e2e.test_daemon_charging import ledger_rows, top_ups
from tests.integration.conftest import REDIS_URL, create_database, drop_database
from tests.support.daemon_process import DaemonProcess, backends_config, free_port, write_config

pytestmark = [pytest.mark.e2e, pytest.mark.integration]


@pytest.fixture
def stores() -> Iterator[tuple[str, str]]:
    name = "ocsd_e2e_" + secrets.token_hex(5)
    dsn = asyncio.run(create_database(name))
    prefix = "ocse2e-" + secrets.token_hex(5)
    try:
        yield dsn, prefix
    finally:
        asyncio.run(drop_database(name))
        r = redis.Redis.from_url(REDIS_URL)
        for key in r.scan_iter(match=prefix + ":*"):
            r.delete(key)


def test_ledger_moves_with_no_application_enabled(tmp_path: Path, stores: tuple[str, str]) -> None:
    dsn, prefix = stores
    config = write_config(tmp_path / "ocsd.toml", peers=["mme.test"], diameter_port=free_port(),
                          admin_port=free_port(), applications=(),
                          extra=backends_config(REDIS_URL, prefix, dsn, keys="demo = false"))
    daemon = DaemonProcess(config, module="ocsd")
    daemon.start()
    imsi = "00101" + f"{secrets.randbelow(10**10):010d}"
    try:
        asyncio.run(top_ups(dsn, prefix, imsi, ["a", "b"]))
        deadline = time.monotonic() + 15
        while len(asyncio.run(ledger_rows(dsn, imsi))) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert asyncio.run(ledger_rows(dsn, imsi)) == [(1, 100), (2, 100)]
    finally:
        assert daemon.stop() == 0
