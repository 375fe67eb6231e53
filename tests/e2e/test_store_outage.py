"""A slow or dead store is a transient failure, quickly (issue 14 point 3): the daemon as HSS over a private
redis-server that is stopped, then SIGSTOPped, under a pipelined load of AIRs. Every AIR is answered, with
the S6a transient code 4181 (never 5012) within the configured timeouts; a ULR (PostgreSQL only) keeps getting
2001; each outage is logged once, with a count; once Redis is back, AIRs get 2001 again."""

from __future__ import annotations

import asyncio
import secrets
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.integration.conftest import create_database, drop_database
from tests.support.daemon_process import DaemonProcess, backends_config, free_port, write_config
from tests.support.raw_s6a import Mme, PrivateRedis, provision

pytestmark = [pytest.mark.e2e, pytest.mark.integration,
              pytest.mark.skipif(shutil.which("redis-server") is None, reason="redis-server is not installed")]

REDIS_TIMEOUT, PG_TIMEOUT = 0.5, 1.0
BOUND = REDIS_TIMEOUT + PG_TIMEOUT + 1.0  # an AIR may use both stores; 1 s of slack for a loaded machine


@dataclass
class Env:
    daemon: DaemonProcess
    redis: PrivateRedis
    port: int
    imsi: str


@pytest.fixture
def env(tmp_path: Path) -> Iterator[Env]:
    r = PrivateRedis(tmp_path)
    r.start()
    name = "ocsd_e2e_" + secrets.token_hex(5)
    dsn = asyncio.run(create_database(name))
    port = free_port()
    extra = backends_config(r.url, "ocsoutage", dsn).replace(
        'key_prefix = "ocsoutage"', f'key_prefix = "ocsoutage"\ntimeout = {REDIS_TIMEOUT}').replace(
        f'dsn = "{dsn}"', f'dsn = "{dsn}"\ntimeout = {PG_TIMEOUT}')
    config = write_config(tmp_path / "ocsd.toml", peers=["mme.test"], diameter_port=port, admin_port=free_port(),
                          applications=("s6a",), extra=extra + '\n[auc]\nhome_plmns = ["00101"]\n')
    daemon = DaemonProcess(config, module="ocsd")
    imsi = f"00101{secrets.randbelow(10**10):010d}"
    try:
        asyncio.run(provision(dsn, imsi))
        daemon.start()
        yield Env(daemon, r, port, imsi)
    finally:
        daemon.kill()
        r.stop()
        asyncio.run(drop_database(name))


def _check_transient(results: dict[int, tuple[str, int, float]]) -> None:
    airs = [(code, seconds) for command, code, seconds in results.values() if command == "AIR"]
    assert {code for code, _ in airs} == {4181}  # TS 29.272 §7.4.4 DIAMETER_AUTHENTICATION_DATA_UNAVAILABLE
    assert max(seconds for _, seconds in airs) < BOUND
    assert {code for command, code, _ in results.values() if command == "ULR"} <= {2001}


def test_redis_stopped_then_hung_gives_transient_answers_then_2001_again(env: Env):
    async def scenario() -> None:
        mme = await Mme.connect(env.port)
        ok = await mme.burst(env.imsi, 20)
        assert {code for _, code, _ in ok.values()} == {2001}

        env.redis.stop()  # Redis down: connection refused
        mark = len(env.daemon.lines)
        _check_transient(await mme.burst(env.imsi, 50, ulrs=5, timeout=BOUND + 5))
        _check_transient(await mme.burst(env.imsi, 50, timeout=BOUND + 5))
        env.redis.start()  # an empty Redis: scripts and the AuC cache are loaded again
        await mme.until_success(env.imsi, 10)
        down = [line for line in env.daemon.lines[mark:] if line.get("event") == "store-unavailable"]
        assert len(down) == 1 and down[0]["store"] == "redis"
        recovered = env.daemon.wait_for("store-recovered", 5, after=mark)
        assert isinstance(recovered["failed_calls"], int) and recovered["failed_calls"] >= 100

        env.redis.pause()  # Redis hung: SIGSTOP, connections open, nothing answers
        mark = len(env.daemon.lines)
        try:
            _check_transient(await mme.burst(env.imsi, 50, ulrs=5, timeout=BOUND + 5))
        finally:
            env.redis.resume()
        await mme.until_success(env.imsi, 10)
        ok = await mme.burst(env.imsi, 20)
        assert {code for _, code, _ in ok.values()} == {2001}
        events = [line.get("event") for line in env.daemon.lines[mark:]]
        assert events.count("store-unavailable") == 1
        env.daemon.wait_for("store-recovered", 5, after=mark)
        mme.writer.close()

    asyncio.run(scenario())
    assert not [line for line in env.daemon.lines if line.get("event") == "handler-failed"]
    assert not [line for line in env.daemon.lines if line.get("level") == "error"]
