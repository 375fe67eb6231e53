"""Admin API throughput: top-ups/s through HTTP (keep-alive connections, Idempotency-Key on each) beside
GET /healthz/s in the same run, against the real daemon (`ocsd run`, S6a enabled, Redis and PostgreSQL); and
whether the API load slows Diameter: AIR/s alone and while the top-up load runs (issue 16 target: >= 2,000
top-ups/s on one process, AIR/s down by no more than 10%).

The HTTP load client is raw asyncio HTTP/1.1 (one request at a time per connection, `--connections` kept
alive) in its own process, so the client's cost is not the daemon's. Baselines from the same run: /healthz/s
(what the framework, uvicorn and the event loop alone allow) and AIR/s without API load. Because requests/s
swing with whatever else the machine runs, the daemon's own CPU time per request (from /proc) is printed
beside them, and its busy share during the AIR runs (well under 100%: the load generators, not the daemon,
set the AIR/s figure, and a drop with API load then measures the clients' contention).

    PYTHONPATH=. .venv/bin/python bench/bench_admin.py [--seconds 5] [--connections 16] [--airs 30000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import os
import secrets
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import redis  # noqa: E402
from bench_s6a import MME, Load, air, cer, expect_success, provision, start  # noqa: E402

from tests.integration.conftest import REDIS_URL, create_database, drop_database  # noqa: E402
from tests.support.daemon_process import backends_config, free_port, write_config  # noqa: E402

TOKEN = "test-token"  # write_config's [admin] token
TARGET = 2000.0  # top-ups/s of issue 16's target


async def _connection(port: int, make: object, until: float, counts: list[int], interval: float = 0.0) -> None:
    """Requests one after another on one keep-alive connection; with `interval`, one every `interval` s."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    n = 0
    start = time.perf_counter()
    while time.perf_counter() < until:
        if interval:
            await asyncio.sleep(max(0.0, start + n * interval - time.perf_counter()))
        writer.write(make(n))  # type: ignore[operator]
        n += 1
        head = await reader.readuntil(b"\r\n\r\n")
        status = int(head[9:12])
        length = 0
        for line in head.split(b"\r\n"):
            if line[:15].lower() == b"content-length:":
                length = int(line[15:])
        await reader.readexactly(length)
        if status != 200:
            raise AssertionError(f"HTTP {status}")
        counts[0] += 1
    writer.close()


def _request(method: str, path: str, body: bytes = b"", extra: str = "") -> bytes:
    return (f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {TOKEN}\r\n{extra}"
            f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode() + body


def http_load(port: int, kind: str, accounts: list[str], connections: int, seconds: float,
              out: multiprocessing.Queue, rate: float = 0.0) -> None:  # type: ignore[type-arg]
    """In a process of its own: requests/s of `kind` ("healthz" or "topup") over keep-alive connections, as
    fast as answered or, with `rate`, paced at that many requests/s in all."""
    interval = connections / rate if rate else 0.0
    tag = secrets.token_hex(4)

    def maker(c: int) -> object:
        if kind == "healthz":
            raw = _request("GET", "/healthz")
            return lambda n: raw
        account = accounts[c % len(accounts)]
        body = json.dumps({"amount": 1}).encode()
        return lambda n: _request("POST", f"/api/v1/accounts/{account}/topup", body,
                                  f"Idempotency-Key: {tag}-{c}-{n}\r\n")

    async def main() -> tuple[float, int]:
        counts = [0]
        started = time.perf_counter()
        until = started + seconds
        await asyncio.gather(*(_connection(port, maker(c), until, counts, interval) for c in range(connections)))
        return counts[0] / (time.perf_counter() - started), counts[0]

    out.put(asyncio.run(main()))


def run_http(port: int, kind: str, accounts: list[str], connections: int, seconds: float,
             cpu: int | None, rate: float = 0.0) -> multiprocessing.Process:
    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    p = multiprocessing.Process(target=http_load, args=(port, kind, accounts, connections, seconds, queue, rate))
    p.start()
    if cpu is not None and p.pid is not None:
        os.sched_setaffinity(p.pid, {cpu})
    p.queue = queue  # type: ignore[attr-defined]
    return p


def result(p: multiprocessing.Process) -> float:
    value, count = p.queue.get(timeout=120)  # type: ignore[attr-defined]
    p.join()
    p.count = count  # type: ignore[attr-defined]
    return float(value)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/PID/stat fields 14 and 15, in clock ticks): the
    daemon's cost per request, which a machine loaded by other work changes far less than requests/s."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def measured(pid: int, p: multiprocessing.Process) -> tuple[float, float]:
    """(requests/s, daemon CPU µs per request) of a load process started just now."""
    before = cpu_seconds(pid)
    rate = result(p)
    return rate, (cpu_seconds(pid) - before) * 1e6 / max(1, p.count)  # type: ignore[attr-defined]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--accounts", type=int, default=64)
    parser.add_argument("--airs", type=int, default=30_000)
    parser.add_argument("--window", type=int, default=256)
    args = parser.parse_args()

    two_cores = shutil.which("taskset") is not None and (os.cpu_count() or 1) > 1
    client_cpu = 1 if two_cores else None
    if two_cores:
        os.sched_setaffinity(0, {1})  # clients on core 1, the daemon on core 0
    name = "ocsd_bench_" + secrets.token_hex(4)
    prefix = "ocsbench-" + secrets.token_hex(4)
    dsn = asyncio.run(create_database(name))
    r = redis.Redis.from_url(REDIS_URL)
    try:
        imsis = asyncio.run(provision(dsn, 200))
        templates = [air(imsi, i) for i, imsi in enumerate(imsis)]
        with tempfile.TemporaryDirectory() as tmp:
            port, admin = free_port(), free_port()
            config = write_config(Path(tmp) / "bench.toml", peers=[MME], diameter_port=port, admin_port=admin,
                                  watchdog=30, applications=("s6a",),
                                  extra=backends_config(REDIS_URL, prefix, dsn) + '\n[auc]\nhome_plmns = ["00101"]\n')
            daemon = start(config, "ocsd", two_cores)
            try:
                import httpx
                with httpx.Client(base_url=f"http://127.0.0.1:{admin}",
                                  headers={"Authorization": f"Bearer {TOKEN}"}) as c:
                    accounts = [c.post("/api/v1/accounts", json={"currency": "EUR"}).json()["account"]
                                for _ in range(args.accounts)]
                load = Load(port, cer(), expect_success)
                load.rate(templates, len(templates) * 5, args.window)  # warm-up
                pid = daemon.proc.pid  # type: ignore[union-attr]
                healthz, healthz_cpu = measured(pid, run_http(admin, "healthz", accounts, args.connections,
                                                              args.seconds, client_cpu))
                topups, topup_cpu = measured(pid, run_http(admin, "topup", accounts, args.connections, args.seconds,
                                                           client_cpu))
                cpu0, t0 = cpu_seconds(pid), time.perf_counter()
                air_alone = load.rate(templates, args.airs, args.window)
                busy_alone = (cpu_seconds(pid) - cpu0) / (time.perf_counter() - t0)
                p = run_http(admin, "topup", accounts, args.connections, args.seconds * 2, client_cpu)
                time.sleep(0.5)
                cpu0, t0 = cpu_seconds(pid), time.perf_counter()
                air_loaded = load.rate(templates, args.airs, args.window)
                busy_loaded = (cpu_seconds(pid) - cpu0) / (time.perf_counter() - t0)
                topups_beside = result(p)
                # the reading: AIR/s while the API serves its target rate, 2,000 top-ups/s
                p = run_http(admin, "topup", accounts, args.connections, args.seconds * 2, client_cpu, TARGET)
                time.sleep(0.5)
                air_paced = load.rate(templates, args.airs, args.window)
                topups_paced = result(p)
            finally:
                daemon.kill()
    finally:
        asyncio.run(drop_database(name))
        for key in r.scan_iter(match=prefix + ":*", count=1000):
            r.delete(key)

    print(f"{os.cpu_count()} cores; {args.connections} keep-alive connections, {args.seconds:g} s per HTTP figure; "
          f"{args.airs} AIRs at window {args.window}")
    print(f"{'measure':<52}{'ocsd':>14}{'baseline':>14}")
    print(f"{'top-ups/s via API (baseline: GET /healthz/s)':<52}{topups:>14,.0f}{healthz:>14,.0f}")
    print(f"{'daemon CPU µs per top-up (baseline: per /healthz)':<52}{topup_cpu:>14,.0f}{healthz_cpu:>14,.0f}")
    print(f"{'AIR/s with top-up load (baseline: without)':<52}{air_loaded:>14,.0f}{air_alone:>14,.0f}")
    print(f"{'top-ups/s while the AIR load ran':<52}{topups_beside:>14,.0f}{'':>14}")
    print(f"{'AIR/s with 2,000 top-ups/s paced (baseline: without)':<52}{air_paced:>14,.0f}{air_alone:>14,.0f}")
    print(f"{'top-ups/s (paced) while the AIR load ran':<52}{topups_paced:>14,.0f}{'':>14}")
    print(f"{'daemon CPU busy during AIRs (with API load / without)':<52}{busy_loaded:>14.0%}{busy_alone:>14.0%}")
    print(f"targets: >= 2,000 top-ups/s ({topups:,.0f}); AIR/s down <= 10% with 2,000 top-ups/s "
          f"({1 - air_paced / air_alone:.0%} down; {1 - air_loaded / air_alone:.0%} under top-ups as fast as answered)")


if __name__ == "__main__":
    main()
