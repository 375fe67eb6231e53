"""`ocsd db create` (creates a missing database, then migrates; a second run changes nothing) and `ocsd config
check` reaching the stores: an unmigrated database is one clear line (exit 2), a missing one names `db create`,
an unreachable Redis exits 1, `--offline` reads the file only."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from click.testing import CliRunner

from ocs.cli import cli
from ocs.store.migrations import available
from tests.integration.conftest import REDIS_URL, dsn_for
from tests.support.async_run import run_sync
from tests.support.daemon_process import free_port

pytestmark = pytest.mark.integration


def invoke(*args: str) -> tuple[int, str, str]:
    r = CliRunner().invoke(cli, list(args), prog_name="ocsd")
    if r.exception is not None and not isinstance(r.exception, SystemExit):
        raise r.exception
    return r.exit_code, r.stdout, r.stderr


def write(tmp_path: Path, dsn: str, redis_url: str = REDIS_URL) -> str:
    path = tmp_path / "ocsd.toml"
    path.write_text(f'[node]\norigin_host = "o.test"\norigin_realm = "test"\n[redis]\nurl = "{redis_url}"\n'
                    f'key_prefix = "chk"\n[postgres]\ndsn = "{dsn}"\n[keys]\ndemo = true\n')
    return str(path)


def test_db_create_then_config_check(tmp_path: Path):
    from tests.integration.conftest import drop_database

    name = "ocsd_create_" + secrets.token_hex(5)
    config = write(tmp_path, dsn_for(name))
    try:
        code, out, err = invoke("config", "check", "-c", config)
        assert code == 1 and "does not exist" in err and "ocsd db create" in err and out == ""
        assert invoke("config", "check", "--offline", "-c", config)[:2] == (0, "ok\n")

        code, out, err = invoke("db", "create", "-c", config, "--json")
        assert code == 0, err
        result = json.loads(out)
        assert result["created"] is True
        assert result["applied"] == [f"{m.version:03d}_{m.name}" for m in available()]
        code, out, _ = invoke("db", "create", "-c", config)
        assert (code, out) == (0, f"database {name} exists\nschema is up to date\n")

        code, out, err = invoke("config", "check", "-c", config, "--json")
        assert code == 0, err
        assert json.loads(out) == {"ok": True, "checks": {"keys": {"ok": True, "source": "demo key"},
                                                          "redis": {"ok": True}, "postgres": {"ok": True}}}
    finally:
        run_sync(drop_database(name))


def test_unmigrated_database_and_unreachable_redis(tmp_path: Path):
    import asyncpg

    from tests.integration.conftest import PG_DSN, drop_database

    name = "ocsd_bare_" + secrets.token_hex(5)

    async def bare() -> None:
        conn = await asyncpg.connect(PG_DSN)
        try:
            await conn.execute(f'CREATE DATABASE "{name}"')
        finally:
            await conn.close()

    run_sync(bare())
    try:
        config = write(tmp_path, dsn_for(name))
        code, out, err = invoke("config", "check", "-c", config)
        assert code == 2 and out == ""
        assert err.startswith("error: postgres: the schema lacks ") and err.strip().endswith("run `ocsd db migrate`")
        assert "Traceback" not in err and len(err.splitlines()) == 1

        down = write(tmp_path, dsn_for(name), redis_url=f"redis://127.0.0.1:{free_port()}/0")
        code, out, _ = invoke("config", "check", "-c", down, "--json")
        body = json.loads(out)
        assert code == 1 and body["ok"] is False and body["checks"]["redis"]["ok"] is False
        assert "cannot reach Redis" in body["error"]
    finally:
        run_sync(drop_database(name))
