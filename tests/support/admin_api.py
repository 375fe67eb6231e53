"""The real daemon (`ocsd run`) with Redis, PostgreSQL and the demo key, for the admin API tests: a module-scoped
fixture `api` with an HTTP client on its admin port, the CLI, and the audit rows."""

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

import asyncpg
import httpx
import pytest

from tests.integration.conftest import REDIS_URL, create_database, drop_database
from tests.support.daemon_process import ROOT, DaemonProcess, backends_config, free_port, write_config

ADMIN = {"Authorization": "Bearer test-token"}  # the config's [admin] token (write_config)


@dataclass
class Api:
    config: Path
    dsn: str
    http: httpx.Client
    base_url: str = ""

    def ocsd(self, *args: str) -> subprocess.CompletedProcess[str]:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        return subprocess.run([sys.executable, "-c", "from ocs.cli import main; main()", *args, "-c",
                               str(self.config)], capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)

    def token(self, role: str, name: str) -> dict[str, str]:
        done = self.ocsd("token", "create", "--role", role, "--name", name, "--json")
        assert done.returncode == 0, done.stderr
        return {"Authorization": f"Bearer {json.loads(done.stdout)['token']}"}

    def audit(self) -> list[dict[str, object]]:
        """The audit rows; the daemon writes them behind its answers (within a loop turn or two)."""
        async def rows() -> list[dict[str, object]]:
            await asyncio.sleep(0.2)
            conn = await asyncpg.connect(self.dsn)
            try:
                rows = await conn.fetch("SELECT actor, action, target, detail FROM audit ORDER BY id")
                return [dict(r) for r in rows]
            finally:
                await conn.close()
        return asyncio.run(rows())


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp = tmp_path_factory.mktemp("admin_api")
    name = "ocsd_e2e_" + secrets.token_hex(5)
    dsn = asyncio.run(create_database(name))
    admin = free_port()
    config = write_config(tmp / "ocsd.toml", peers=[], diameter_port=free_port(), admin_port=admin,
                          extra=backends_config(REDIS_URL, "ocsapi" + secrets.token_hex(3), dsn))
    daemon = DaemonProcess(config, module="ocsd")
    try:
        daemon.start()
        with httpx.Client(base_url=f"http://127.0.0.1:{admin}", timeout=10) as http:
            yield Api(config, dsn, http, f"http://127.0.0.1:{admin}")
    finally:
        daemon.stop()
        asyncio.run(drop_database(name))



__all__ = ["ADMIN", "Api", "api"]
