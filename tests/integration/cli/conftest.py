"""CLI fixtures: a config file naming a fresh, migrated PostgreSQL database and a unique Redis key prefix, and a
runner that invokes `ocsd` in-process (click's CliRunner) and returns exit code, stdout and stderr."""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from ocs.cli import cli
from tests.integration.conftest import REDIS_URL, dsn_for
from tests.support.async_run import run_sync


@dataclass(frozen=True)
class Result:
    code: int
    out: str
    err: str

    @property
    def json(self) -> Any:
        return json.loads(self.out)


@dataclass(frozen=True)
class CliEnv:
    config: Path
    dsn: str
    prefix: str


@pytest.fixture(scope="module")
def cli_database() -> Iterator[str]:
    from tests.integration.conftest import create_database, drop_database

    name = "ocsd_cli_" + secrets.token_hex(6)
    dsn = run_sync(create_database(name))
    assert dsn == dsn_for(name)
    try:
        yield dsn
    finally:
        run_sync(drop_database(name))


@pytest.fixture
def cli_env(tmp_path: Path, cli_database: str) -> Iterator[CliEnv]:
    prefix = "ocscli-" + secrets.token_hex(6)
    config = tmp_path / "ocsd.toml"
    config.write_text(f"""
[node]
origin_host = "ocsd.test"
origin_realm = "test"

[redis]
url = "{REDIS_URL}"
key_prefix = "{prefix}:"

[postgres]
dsn = "{cli_database}"

[keys]
demo = true

[charging]
currency = "EUR"
""")
    try:
        yield CliEnv(config, cli_database, prefix)
    finally:
        client = redis.Redis.from_url(REDIS_URL)
        keys = list(client.scan_iter(match=prefix + ":*", count=5000))
        if keys:
            client.delete(*keys)
        client.close()


@pytest.fixture
def ocsd(cli_env: CliEnv) -> Callable[..., Result]:
    """`ocsd(*args)` runs `ocsd ARGS -c <the test config>` and returns its Result."""
    from click.testing import CliRunner

    def invoke(*args: str, config: bool = True, input: str | None = None) -> Result:
        argv = [*args, "-c", str(cli_env.config)] if config else list(args)
        r = CliRunner().invoke(cli, argv, prog_name="ocsd", input=input)
        if r.exception is not None and not isinstance(r.exception, SystemExit):
            raise r.exception
        return Result(r.exit_code, r.stdout, r.stderr)

    return invoke
