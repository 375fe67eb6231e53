"""Health that tells the truth (issue 13 point 1), on the real daemon over a private redis-server: /healthz is
200 throughout; /readyz is 200, goes 503 naming Redis when the server is stopped, and 200 again once it is
back; `ocsd status` (the real CLI, reading the admin port with the config's token) says the same, with peers."""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from tests.integration.conftest import create_database, drop_database
from tests.support.daemon_process import ROOT, DaemonProcess, backends_config, free_port, write_config
from tests.support.private_redis import PrivateRedis

pytestmark = [pytest.mark.e2e, pytest.mark.integration,
              pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")]


def get(port: int, path: str) -> tuple[int, dict[str, object]]:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def ocsd(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", "from ocs.cli import main; main()", *args, "-c", str(config)],
                          capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)


def until(port: int, status: int, timeout: float = 15.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        code, body = get(port, "/readyz")
        if code == status or time.monotonic() > deadline:
            assert code == status, body
            return body
        time.sleep(0.2)


def test_readyz_follows_redis_and_status_reports_it(tmp_path: Path):
    r = PrivateRedis(tmp_path)
    r.start()
    name = "ocsd_e2e_" + secrets.token_hex(5)
    dsn = asyncio.run(create_database(name))
    admin = free_port()
    extra = backends_config(r.url, "ocshealth", dsn).replace('key_prefix = "ocshealth"',
                                                               'key_prefix = "ocshealth"\ntimeout = 0.5')
    config = write_config(tmp_path / "ocsd.toml", peers=["mme.test"], diameter_port=free_port(), admin_port=admin,
                          extra=extra)
    daemon = DaemonProcess(config, module="ocsd")
    try:
        daemon.start()
        body = until(admin, 200)
        assert body["ready"] is True and body["problems"] == []
        assert set(body["checks"]) == {"listeners", "redis", "postgres", "ledger"}  # type: ignore[arg-type]

        done = ocsd(config, "status", "--json")
        assert done.returncode == 0, done.stderr
        status = json.loads(done.stdout)
        assert status["ready"] is True and status["ledger_lag_seconds"] == 0
        assert status["peers"] == [{"peer": "mme.test", "state": "Closed", "last_watchdog_seconds_ago": None}]
        text = ocsd(config, "status")
        assert text.returncode == 0 and "ready" in text.stdout and "mme.test" in text.stdout

        r.stop()
        body = until(admin, 503)
        assert body["ready"] is False
        assert any(str(p).startswith("redis: ") for p in body["problems"])  # type: ignore[attr-defined]
        assert get(admin, "/healthz") == (200, {"status": "ok"})  # liveness: the loop still answers
        down = ocsd(config, "status", "--json")
        assert down.returncode == 1
        assert json.loads(down.stdout)["checks"]["redis"]["ok"] is False
        assert "NOT READY" in ocsd(config, "status").stdout

        r.start()
        assert until(admin, 200)["ready"] is True
    finally:
        daemon.kill()
        r.stop()
        asyncio.run(drop_database(name))


def test_status_without_a_daemon_is_one_line_exit_1(tmp_path: Path):
    config = write_config(tmp_path / "ocsd.toml", peers=[], diameter_port=free_port(), admin_port=free_port())
    done = ocsd(config, "status")
    assert done.returncode == 1 and done.stderr.startswith("error: cannot reach the daemon") and not done.stdout
    done = ocsd(config, "status", "--json")
    assert done.returncode == 1 and json.loads(done.stdout)["ok"] is False
