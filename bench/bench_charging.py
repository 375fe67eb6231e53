"""Reserve+commit pairs per second through the charging service against the local Redis.

N concurrent asyncio callers (default 200) each run reserve -> commit on their own session for `--seconds`;
the figure is completed pairs per second from one process. A second run does the same work as Gy does it on
a CCR-U: `update()` commits the used units and reserves the next ones in one script call. The ceiling from
the same run is redis-benchmark calling EVALSHA of a trivial script with 16 commands pipelined (the server's
own limit for script calls).

Reading: one Python process and one Redis on the same cores; each pair is Lua script time in Redis plus the
caller's Python (JSON in and out, futures). redis-benchmark shows what Redis alone does with trivial scripts;
the gap is the scripts' own work and the client's Python.

    PYTHONPATH=. .venv/bin/python bench/bench_charging.py [--callers 200] [--seconds 10] [--writer]

Needs Redis (OCSD_BENCH_REDIS_URL, default redis://127.0.0.1:6379/0) and PostgreSQL (OCSD_BENCH_PG_DSN, default
postgresql://postgres@127.0.0.1:5432/postgres: a temporary database is created and dropped).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import shutil
import subprocess
import time

import asyncpg

from ocs.charging import Allowances, BundleDefinition, BundleKind, ChargingError, Tariff, Unit
from ocs.services.charging import ChargingService
from ocs.store.ledger import LedgerWriter
from ocs.store.migrations import migrate
from ocs.store.redis_client import RedisStore

REDIS_URL = os.environ.get("OCSD_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_DSN = os.environ.get("OCSD_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def redis_benchmark_ceiling(sha: str) -> str:
    exe = shutil.which("redis-benchmark")
    if exe is None:
        return "redis-benchmark is missing"
    out = subprocess.run([exe, "-q", "-n", "100000", "-P", "16", "EVALSHA", sha, "0"], capture_output=True,
                         text=True, check=False, timeout=120)
    line = [ln for ln in out.stdout.replace("\r", "\n").splitlines() if "requests per second" in ln]
    return line[-1].split(":", 1)[1].strip() if line else (out.stderr.strip() or "no figure")


async def run(callers: int, seconds: float, subscribers: int, with_writer: bool) -> None:
    db = "ocsd_bench_" + secrets.token_hex(4)
    admin = await asyncpg.connect(PG_DSN)
    await admin.execute(f'CREATE DATABASE "{db}"')
    base = PG_DSN.rpartition("/")[0]
    pool = await asyncpg.create_pool(f"{base}/{db}", min_size=1, max_size=4)
    prefix = "ocsbench-" + secrets.token_hex(4)
    store = RedisStore(REDIS_URL, prefix)
    try:
        async with pool.acquire() as conn:
            await migrate(conn)
            await conn.executemany(
                "INSERT INTO subscribers (imsi, msisdn, k_enc, opc_enc) VALUES ($1, $2, $3, $4)",
                [(f"00199{i:010d}", f"7{i:010d}", b"\0", b"\0") for i in range(subscribers)])
        await store.start()
        service = ChargingService(store, pool, request_ttl=60)
        await service.set_tariff(Tariff(1, Unit.OCTETS, 1024, 1, 5, "EUR"))
        await service.create_bundle(BundleDefinition("bench1g", "1 GB", BundleKind.DATA,
                                                     Allowances(data_octets=10**9), 30, 10, 100, "EUR"))
        imsis = []   # the accounts (one SIM each); the hot path takes the account id
        for i in range(subscribers):
            account = await service.open_account("EUR")
            await service.link_sim(account, f"00199{i:010d}", f"7{i:010d}")
            await service.top_up(account, 10**12, "bench-topup")
            await service.purchase(account, "bench1g", "bench-buy")
            imsis.append(account)
        writer = LedgerWriter(store, pool) if with_writer else None
        if writer:
            writer.start()

        pairs = 0
        errors = 0

        async def caller(n: int, stop_at: float) -> None:
            """reserve() then commit(): two script calls per pair"""
            nonlocal pairs, errors
            imsi = imsis[n % len(imsis)]
            session = f"bench;{n}"
            k = 0
            while time.perf_counter() < stop_at:
                try:
                    await service.reserve(imsi, session, 1, 100_000)
                    await service.commit(imsi, session, 1, 50_000, f"{session}:{k}")
                    pairs += 1
                except (ChargingError, ConnectionError):  # counted, the run goes on
                    errors += 1
                k += 1

        async def ccr_u_caller(n: int, stop_at: float) -> None:
            """update(): commit the used units and reserve the next ones in one script call (a Gy CCR-U)"""
            nonlocal pairs, errors
            imsi = imsis[n % len(imsis)]
            session = f"bench-u;{n}"
            await service.reserve(imsi, session, 1, 100_000)
            k = 0
            while time.perf_counter() < stop_at:
                try:
                    await service.update(imsi, session, 1, 50_000, 100_000, f"{session}:{k}")
                    pairs += 1
                except (ChargingError, ConnectionError):
                    errors += 1
                k += 1

        async def measure(body) -> float:  # noqa: ANN001
            nonlocal pairs
            pairs = 0
            started = time.perf_counter()
            await asyncio.gather(*(body(n, started + seconds) for n in range(callers)))
            return pairs / (time.perf_counter() - started)

        # warm-up (connections, script cache) then the measured runs
        await asyncio.gather(*(service.reserve(imsis[0], f"warm{n}", 1, 10) for n in range(100)))
        rate = await measure(caller)
        separate_pairs = pairs
        update_rate = await measure(ccr_u_caller)
        written = 0
        lag = time.perf_counter()
        if writer:
            await writer.stop()
            written = writer.written
        lag = time.perf_counter() - lag
        ceiling = redis_benchmark_ceiling(await store.client.script_load("return 1"))
        async with pool.acquire() as conn:
            in_pg = await conn.fetchval("SELECT count(*) FROM ledger")

        print()
        print(f"{'measure':<58} {'value':>16}")
        print("-" * 75)
        print(f"{'callers':<58} {callers:>16}")
        print(f"{'subscribers':<58} {subscribers:>16}")
        print(f"{'reserve+commit pairs (separate calls)':<58} {separate_pairs:>16}")
        print(f"{'errors':<58} {errors:>16}")
        print(f"{'pairs/s, reserve() + commit() (2 script calls a pair)':<58} {rate:>16,.0f}")
        print(f"{'pairs/s, update() = CCR-U (1 script call a pair)':<58} {update_rate:>16,.0f}")
        print(f"{'target pairs/s':<58} {15000:>16,}")
        if writer:
            print(f"{'ledger entries written to PostgreSQL during the run':<58} {written:>16,}")
            print(f"{'ledger rows in PostgreSQL (incl. setup)':<58} {in_pg:>16,}")
            print(f"{'drain time after the run (s)':<58} {lag:>16.2f}")
        print(f"{'redis-benchmark EVALSHA -P 16 (ceiling, requests/s)':<58} {ceiling:>16}")
        print()
        print("PASS" if max(rate, update_rate) >= 15000 else "BELOW TARGET")
    finally:
        await store.close()
        await pool.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()
        import redis.asyncio as aioredis
        client = aioredis.Redis.from_url(REDIS_URL)
        keys = [k async for k in client.scan_iter(match=prefix + ":*", count=10000)]
        for i in range(0, len(keys), 5000):
            await client.delete(*keys[i:i + 5000])
        await client.aclose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--callers", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--writer", action="store_true", help="run the ledger writer during the benchmark")
    args = parser.parse_args()
    import uvloop  # the event loop the daemon runs on

    uvloop.run(run(args.callers, args.seconds, args.subscribers, args.writer))


if __name__ == "__main__":
    main()
