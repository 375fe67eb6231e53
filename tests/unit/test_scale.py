"""Pure parts of the scale-out (issue 19): slot routing against redis-py's own key_slot, the key a command is
routed by, node URLs, the `[daemon]` and new `[redis]` keys, and the worker's notifications to its supervisor."""

from __future__ import annotations

import os

from hypothesis import given
from hypothesis import strategies as st
from redis.crc import key_slot

from ocs.config import parse_config
from ocs.store.redis_client import key_slot as tag_slot
from ocs.store.redis_cluster import command_key, node_url, seeds_of, slot_of
from ocs.supervisor import TICK, WorkerNotifier
from tests.unit.test_config import error_of, with_


@given(st.text(max_size=30))
def test_slot_of_agrees_with_redis_py(key: str) -> None:
    assert slot_of(key) == key_slot(key.encode())


def test_hash_tags_route_an_accounts_keys_and_its_slot_keys_together() -> None:
    assert slot_of("ocsd:{acc1}:acct") == slot_of("ocsd:{acc1}:rsv") == tag_slot("acc1")
    assert slot_of("a{}b") == key_slot(b"a{}b")  # an empty tag: the whole key
    assert slot_of("a{b}{c}") == tag_slot("b")  # the first tag only


def test_command_key() -> None:
    assert command_key(("EVALSHA", "sha", 2, "k1", "k2", "arg")) == "k1"
    assert command_key(("EVAL", "src", 0, "arg")) is None
    assert command_key(("XREAD", "COUNT", 5, "BLOCK", 1, "STREAMS", "s1", "s2", "0", "0")) == "s1"
    assert command_key(("HGET", "h", "f")) == "h"
    assert command_key(("SCRIPT", "LOAD", "src")) is None and command_key(("PING",)) is None


def test_node_url_keeps_credentials_and_tls() -> None:
    assert node_url("rediss://u:pw@seed:7000/0?ssl_cert_reqs=none", "10.0.0.2", 7001) == \
        "rediss://u:pw@10.0.0.2:7001/0?ssl_cert_reqs=none"
    assert node_url("redis://seed:7000", "h", 1) == "redis://h:1/0"
    assert seeds_of("redis://a:7000/0", ("b:7001", "[::1]:7002")) == [("a", 7000), ("b", 7001), ("::1", 7002)]


def test_daemon_and_redis_scale_keys() -> None:
    c = parse_config(with_("daemon", workers=4, housekeeping_lease=True, lease_ttl=3))
    assert (c.daemon.workers, c.daemon.housekeeping_lease, c.daemon.lease_ttl) == (4, True, 3)
    assert parse_config(with_("daemon")).daemon.housekeeping_lease is None
    r = parse_config(with_("redis", cluster=True, seeds=["10.0.0.2:7000"], wait_replicas=1, wait_timeout=50,
                           sentinels=["s1:26379"], sentinel_master="m")).redis
    assert (r.seeds, r.wait_replicas, r.wait_timeout, r.sentinels, r.sentinel_master) == (
        ("10.0.0.2:7000",), 1, 50, ("s1:26379",), "m")
    assert "daemon.workers" in error_of(with_("daemon", workers=0))
    assert "daemon.workers" in error_of(with_("daemon", workers=65))
    assert "redis.seeds[0]" in error_of(with_("redis", seeds=["nope"]))
    assert "daemon.bogus" in error_of(with_("daemon", bogus=1))


def test_worker_notifier_writes_ready_and_ticks_to_the_pipe() -> None:
    r, w = os.pipe()
    try:
        n = WorkerNotifier(w, 3, 5.0)
        n.ready()
        n.watchdog()
        n.stopping()
        assert os.read(r, 16) == bytes((3, 3 | TICK))
        assert n.watchdog_interval == 5.0
    finally:
        os.close(r)
        os.close(w)


def test_cli_run_accepts_workers() -> None:
    from click.testing import CliRunner

    from ocs.cli import cli

    result = CliRunner().invoke(cli, ["run", "--help"])
    assert "--workers" in result.output
