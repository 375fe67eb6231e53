"""Scale-out (issue 19): Gy CCR-U/s with `ocsd run --workers 1, 2, 4`, against one Redis and against a 3-primary
Redis Cluster (started by the benchmark on loopback ports), in one run; for each: the daemon's CPU time per
request (all its processes, from /proc) and the Redis time per request (INFO commandstats, all nodes), and the
throughput projected per added core.

Baseline from the same run: 1 worker on one Redis (a private redis-server, AOF with fsync every second, like
the cluster's nodes) (the figures of the other rows are relative to it). The client
is one Python process with 8 pipelining connections (the kernel spreads them over the workers); on a machine
with few cores the client, the workers and Redis share them, so the measured scaling is bounded by the cores:
the projection `1 / (CPU per request)` per core is what a larger host adds per worker.

    python bench/bench_scale.py [--accounts N] [--requests N] [--workers 1,2,4] [--window W]

Reading: on a 2-core host the client takes one core, so 2 and 4 workers share the other with Redis: CCR-U/s
cannot grow much, and Redis' per-command times (INFO commandstats measures wall time) grow with the number of
processes competing for the cores. "ocsd CPU us/req" stays nearly flat with the number of workers: no shared
state between them, so each added core adds about `per core /s`. On the cluster each request costs more ocsd CPU
(one pipeline per primary: smaller batches, three sockets to read) and the writer's per-slot passes add a fixed
cost per second.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import asyncpg  # noqa: E402
from pipeline import run_client  # noqa: E402

from ocs.diameter import avp  # noqa: E402
from ocs.diameter.message import Message  # noqa: E402
from tests.integration.conftest import create_database, drop_database  # noqa: E402
from tests.support.daemon_process import DaemonProcess, backends_config, free_port, write_config  # noqa: E402
from tests.support.redis_cluster import LocalCluster, client, delete_prefix  # noqa: E402

CONNECTIONS = 8
PEERS = [f"pgw{i}.bench" for i in range(CONNECTIONS)]
RG = 10
USED = 1000


def cer(peer: str) -> bytes:
    return Message(257, 0, 0x80, 1, 1, [
        avp.utf8(264, peer), avp.utf8(296, "test"), avp.address(257, "127.0.0.1"), avp.u32(266, 0),
        avp.utf8(269, "bench", mandatory=False), avp.u32(258, 4)]).encode()


def ccr(peer: str, session: str, kind: int, number: int, imsi: str, used: int) -> bytes:
    members = [avp.u32(432, RG), avp.grouped(437, [avp.u64(421, 0)])]
    if used:
        members.append(avp.grouped(446, [avp.u64(421, used)]))
    return Message(272, 4, 0xC0, 0, 0, [
        avp.utf8(263, session), avp.utf8(264, peer), avp.utf8(296, "test"), avp.utf8(283, "test"), avp.u32(258, 4),
        avp.utf8(461, "32251@3gpp.org"), avp.u32(416, kind), avp.u32(415, number),
        avp.grouped(443, [avp.u32(450, 1), avp.utf8(444, imsi)]), avp.grouped(456, members)]).encode()


def expect_success(answer: bytes) -> None:
    rc = Message.decode(answer).find(268)
    if rc is None or rc.u32 != 2001:
        m = Message.decode(answer)
        raise AssertionError(f"CCA without success: {rc.u32 if rc else None} {[(a.code, a.data) for a in m.avps]}")


async def provision(url: str, dsn: str, prefix: str, accounts: int) -> list[str]:
    imsis = [f"00101{i:010d}" for i in range(accounts)]
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table("subscribers", records=[(i, "49" + i[-9:], b"\0" * 44, b"\0" * 44)
                                                                 for i in imsis],
                                         columns=["imsi", "msisdn", "k_enc", "opc_enc"])
        await conn.copy_records_to_table("accounts", records=[(i, "EUR") for i in imsis],
                                         columns=["account_id", "currency"])
        await conn.execute("INSERT INTO tariffs (rating_group, unit, unit_size, price_home, price_roaming, currency) "
                           "VALUES ($1, 'octets', 1000, 1, 5, 'EUR')", RG)
    finally:
        await conn.close()
    r = client(url)
    for i in imsis:
        r.hset(f"{prefix}:{{{i}}}:acct", mapping={"bal": 10**12, "held": 0, "cur": "EUR", "seq": 0})
        r.set(f"{prefix}:imsi:{{{i}}}", i)
    r.close()
    return imsis


def cpu_seconds(pids: list[int]) -> float:
    """utime + stime of these processes (and their reaped children) from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += sum(int(x) for x in fields[11:15])
    return total / tick


def redis_usec(ports: list[int]) -> float:
    """Microseconds Redis spent in commands so far, summed over the nodes."""
    import redis

    total = 0.0
    for port in ports:
        r = redis.Redis(port=port)
        for stat in r.info("commandstats").values():
            total += float(stat["usec"])
        r.close()
    return total


async def load(port: int, batches: list[list[bytes]], window: int) -> float:
    started = time.perf_counter()
    await asyncio.gather(*(run_client(port, cer(PEERS[i]), b, len(b), window, expect_success)
                           for i, b in enumerate(batches)))
    return sum(len(b) for b in batches) / (time.perf_counter() - started)


def private_redis(tmp: Path) -> tuple[int, subprocess.Popen[bytes]]:
    """A redis-server of the benchmark's own, configured as each cluster node (AOF, fsync every second)."""
    port = free_port()
    (tmp / "single").mkdir()
    proc = subprocess.Popen(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(tmp / "single"),
                             "--appendonly", "yes", "--appendfsync", "everysec", "--save", ""],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    import redis

    for _ in range(100):
        try:
            redis.Redis(port=port).ping()
            break
        except redis.ConnectionError:
            time.sleep(0.05)
    return port, proc


def worker_pids(daemon: DaemonProcess) -> list[int]:
    pids = {int(line["pid"]) for line in daemon.lines if line.get("event") == "started" and "pid" in line}
    return sorted(pids | ({daemon.proc.pid} if daemon.proc else set()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=2000)
    parser.add_argument("--requests", type=int, default=24_000, help="CCR-Us per measurement")
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--window", type=int, default=64, help="requests in flight per connection")
    args = parser.parse_args()
    import uvloop

    counts = [int(x) for x in args.workers.split(",")]
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores, load average "
          f"{os.getloadavg()[0]:.1f}; {args.requests} CCR-U per measurement over {args.accounts} accounts, "
          f"{CONNECTIONS} connections x window {args.window}")
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        cluster = LocalCluster(Path(tmp) / "cluster", replicas=0)
        cluster.start()
        single = private_redis(Path(tmp))  # not the shared Redis: its command times would count other users'
        try:
            for backend, url, ports in (("redis", f"redis://127.0.0.1:{single[0]}/0", [single[0]]),
                                        ("cluster", cluster.url, cluster.ports)):
                for n in counts:
                    print(f"measuring {backend}, {n} worker(s)", flush=True)
                    rows.append((backend, n, *measure(backend, url, ports, n, args, Path(tmp), uvloop)))
        finally:
            cluster.stop()
            single[1].terminate()
            single[1].wait(10)
    base = rows[0][2]
    print(f"{'redis':8} {'workers':>7} {'CCR-U/s':>9} {'x base':>7} {'ocsd CPU us/req':>16} "
          f"{'Redis us/req':>13} {'per core /s':>12}")
    for backend, n, rate, cpu_us, redis_us in rows:
        print(f"{backend:8} {n:7d} {rate:9.0f} {rate / base:7.2f} {cpu_us:16.1f} {redis_us:13.1f} "
              f"{1e6 / cpu_us if cpu_us else 0:12.0f}")
    print("baseline: redis, 1 worker. 'per core /s' = 1e6 / ocsd CPU per request: the CCR-U/s each added core gives "
          "ocsd on a host where the client and Redis have cores of their own (Redis needs 1 core per "
          "1e6 / (Redis us/req) CCR-U/s, per primary on the cluster)")


def measure(backend: str, url: str, ports: list[int], workers: int, args: argparse.Namespace, tmp: Path,
            uvloop: object) -> tuple[float, float, float]:
    name = "ocsd_bench_" + secrets.token_hex(4)
    prefix = "ocsbench-" + secrets.token_hex(4)
    dsn = asyncio.run(create_database(name))
    daemon = None
    try:
        imsis = asyncio.run(provision(url, dsn, prefix, args.accounts))
        port = free_port()
        extra = backends_config(url, prefix, dsn, cluster=backend == "cluster").replace(
            "\ncluster =", "\ntimeout = 5.0\ncluster =") + \
            '\n[charging]\ncurrency = "EUR"\n\n[gy]\ngrant_octets = 100000000\n' + \
            f"\n[daemon]\nworkers = {workers}\n"
        config = write_config(tmp / f"{name}.toml", peers=PEERS, diameter_port=port, admin_port=free_port(),
                              watchdog=30, applications=("gy",), extra=extra)
        daemon = DaemonProcess(config, module="ocsd")
        daemon.start()
        if workers > 1:
            daemon.wait_for("workers-ready", 60)
        per = len(imsis) // CONNECTIONS
        shards = [list(enumerate(imsis[i * per:(i + 1) * per])) for i in range(CONNECTIONS)]
        initial = [[ccr(PEERS[c], f"{PEERS[c]};{k}", 1, 0, imsi, 0) for k, imsi in shard]
                   for c, shard in enumerate(shards)]
        asyncio.run(load(port, initial, args.window))  # sessions opened; connections warmed up
        rounds = -(-args.requests // len(imsis)) * 2 + 1
        updates = [[ccr(PEERS[c], f"{PEERS[c]};{k}", 2, r + 1, imsi, USED) for r in range(rounds)
                    for k, imsi in shard] for c, shard in enumerate(shards)]
        each = args.requests // CONNECTIONS
        asyncio.run(load(port, [u[:each // 4] for u in updates], args.window))  # warm-up
        pids = worker_pids(daemon)
        cpu0, redis0 = cpu_seconds(pids), redis_usec(ports)
        rate = asyncio.run(load(port, [u[each // 4:each // 4 + each] for u in updates], args.window))
        total = each * CONNECTIONS
        cpu_us = (cpu_seconds(pids) - cpu0) * 1e6 / total
        redis_us = (redis_usec(ports) - redis0) / total
        return rate, cpu_us, redis_us
    finally:
        if daemon is not None:
            daemon.stop(60)
        asyncio.run(drop_database(name))
        delete_prefix(url, prefix)


if __name__ == "__main__":
    main()
