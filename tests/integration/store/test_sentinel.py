"""`[redis] sentinels`: the store finds the primary through Redis Sentinel, and after the primary is killed and a
replica promoted by the sentinel, calls reach the new primary (a private primary, replica and sentinel)."""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis.exceptions

from ocs.store.redis_cluster import make_store
from ocs.store.redis_sentinel import SentinelStore
from tests.support.daemon_process import free_port

pytestmark = pytest.mark.asyncio


def _ping(port: int) -> bool:
    out = subprocess.run(["redis-cli", "-p", str(port), "ping"], capture_output=True, text=True, timeout=5)
    return "PONG" in out.stdout


def _linked(replica: int) -> bool:
    out = subprocess.run(["redis-cli", "-p", str(replica), "info", "replication"], capture_output=True, text=True,
                         timeout=5)
    return "master_link_status:up" in out.stdout


@pytest.fixture
def sentinel(tmp_path: Path) -> Iterator[tuple[int, dict[str, subprocess.Popen[bytes]], list[int]]]:
    if shutil.which("redis-server") is None:
        pytest.skip("redis-server not installed")
    primary, replica, sport = free_port(), free_port(), free_port()
    common = ["--bind", "127.0.0.1", "--save", "", "--appendonly", "yes", "--protected-mode", "no"]
    procs: dict[str, subprocess.Popen[bytes]] = {}
    for name, port, extra in (("primary", primary, []), ("replica", replica, ["--replicaof", "127.0.0.1",
                                                                              str(primary)])):
        (tmp_path / name).mkdir()
        procs[name] = subprocess.Popen(["redis-server", "--port", str(port), "--dir", str(tmp_path / name), *common,
                                        *extra], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    # The sentinel learns the replicas from the primary's INFO: at once if the replica is linked before the
    # sentinel starts, else only at its next INFO, 10 s later (a failover before that finds no replica).
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not _linked(replica):
        time.sleep(0.1)
    conf = tmp_path / "sentinel.conf"
    conf.write_text(f"port {sport}\nbind 127.0.0.1\nprotected-mode no\n"
                    f"sentinel monitor mymaster 127.0.0.1 {primary} 1\n"
                    "sentinel down-after-milliseconds mymaster 1000\nsentinel failover-timeout mymaster 5000\n")
    procs["sentinel"] = subprocess.Popen(["redis-server", str(conf), "--sentinel"], stdout=subprocess.DEVNULL,
                                         stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 25
        while time.monotonic() < deadline:  # the sentinel has seen the primary and its replica
            info = subprocess.run(["redis-cli", "-p", str(sport), "sentinel", "replicas", "mymaster"],
                                  capture_output=True, text=True, timeout=5).stdout
            if str(replica) in info:
                break
            time.sleep(0.2)
        else:
            pytest.fail("the sentinel never saw the replica")
        yield sport, procs, [primary, replica]
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait(10)


async def test_store_through_sentinel_survives_a_failover(sentinel) -> None:  # type: ignore[no-untyped-def]
    sport, procs, (primary, replica) = sentinel
    store = make_store("redis://127.0.0.1:1/0", "ocssen", sentinels=(f"127.0.0.1:{sport}",),
                       sentinel_master="mymaster", wait_replicas=1, wait_timeout=500)
    assert isinstance(store, SentinelStore)
    await store.start()
    try:
        assert await store.pipeline.call("INCR", "ocssen:n") == 1
        assert await store.client.get("ocssen:n") == "1"
        procs["primary"].kill()
        procs["primary"].wait(10)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                value = await store.pipeline.call("INCR", "ocssen:n")
                break
            except (OSError, ConnectionError, redis.exceptions.ConnectionError):  # the guard's transient errors
                await asyncio.sleep(0.3)
        else:
            pytest.fail("no promoted primary within 30 s")
        assert value == 2  # the replica had the first INCR
        host, port = await store.sentinel.discover_master("mymaster")
        assert int(port) == replica
    finally:
        await store.close()
