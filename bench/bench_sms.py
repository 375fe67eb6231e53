"""SMS billing throughput (issue 18 targets: >= 3,000 charges/s and >= 5,000 events/s on one process).

1. Charges/s through the HTTP API: POST /api/v1/sms/charge against the real daemon (`ocsd run`, Redis and
   PostgreSQL), a fresh message id per request, spread over many accounts; baseline GET /healthz/s in the same
   run (what uvicorn, FastAPI and the loop alone allow). The load client is raw asyncio HTTP/1.1 over keep-alive
   connections in its own process (bench_admin's client).
2. Events/s through the Jasmin consumer: N submit_sm_resp events (ESME_ROK, Jasmin's JSON shape) waiting in the
   queue, then JasminConsumers (decode, one Redis script, ack) until all are applied; baseline: a bare aio-pika
   consumer that only acknowledges the same number of messages, same prefetch, same broker, same run.

Reading: a charge is two Redis commands (the message id's claim, then one script) and a JSON request through
FastAPI with the audit of every write, so the API figure follows the admin stack's own ceiling (/healthz/s,
and the top-ups/s of bench_admin) more than Redis; an event is one JSON decode, a GET and one script, and its
acknowledgement, so the consumer follows the bare aio-pika figure. RabbitMQ shares the machine's cores with
the benchmark: on a loaded machine both baselines drop with the figures.

    PYTHONPATH=. .venv/bin/python bench/bench_sms.py [--seconds 5] [--connections 16] [--events 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
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

import aio_pika  # noqa: E402
import asyncpg  # noqa: E402
import redis  # noqa: E402
from bench_admin import _connection, _request, result  # noqa: E402

from ocs.services.charging import ChargingService  # noqa: E402
from ocs.sms import metrics  # noqa: E402
from ocs.sms.consumer import JasminConsumers  # noqa: E402
from ocs.sms.pricing import SmsTariff  # noqa: E402
from ocs.sms.service import ChargeRequest, SmsService  # noqa: E402
from ocs.store.redis_client import RedisStore  # noqa: E402
from tests.integration.conftest import REDIS_URL, create_database, drop_database  # noqa: E402
from tests.support.daemon_process import DaemonProcess, backends_config, free_port, write_config  # noqa: E402
from tests.support.rabbitmq import AMQP_URL, delete_topology, unique_config  # noqa: E402

SMS_SECTION = '\n[sms]\ndefault_plan = "std"\nrate_limit = 0\n'


def charge_load(port: int, kind: str, accounts: list[str], connections: int, seconds: float, out: object) -> None:
    """In a process of its own: requests/s of `kind` ("healthz" or "charge")."""
    tag = secrets.token_hex(4)

    def maker(c: int) -> object:
        if kind == "healthz":
            raw = _request("GET", "/healthz")
            return lambda n: raw
        account = accounts[c % len(accounts)]
        return lambda n: _request("POST", "/api/v1/sms/charge", json.dumps(
            {"account": account, "message_id": f"{tag}-{c}-{n}", "destination": "254712345678"}).encode())

    async def main() -> tuple[float, int]:  # what bench_admin.result reads: (requests/s, requests)
        counts = [0]
        started = time.perf_counter()
        until = started + seconds
        await asyncio.gather(*(_connection(port, maker(c), until, counts) for c in range(connections)))
        return counts[0] / (time.perf_counter() - started), counts[0]

    out.put(asyncio.run(main()))  # type: ignore[attr-defined]


def run_load(port: int, kind: str, accounts: list[str], connections: int, seconds: float, cpu: int | None) -> object:
    import multiprocessing

    queue: multiprocessing.Queue = multiprocessing.Queue()  # type: ignore[type-arg]
    p = multiprocessing.Process(target=charge_load, args=(port, kind, accounts, connections, seconds, queue))
    p.start()
    if cpu is not None and p.pid is not None:
        os.sched_setaffinity(p.pid, {cpu})
    p.queue = queue  # type: ignore[attr-defined]
    return p


def http_charges(dsn: str, prefix: str, args: argparse.Namespace, two_cores: bool) -> tuple[float, float]:
    import httpx

    client_cpu = 1 if two_cores else None
    with tempfile.TemporaryDirectory() as tmp:
        admin = free_port()
        config = write_config(Path(tmp) / "bench.toml", peers=[], diameter_port=free_port(), admin_port=admin,
                              extra=backends_config(REDIS_URL, prefix, dsn) + SMS_SECTION)
        daemon = DaemonProcess(config, module="ocsd")
        daemon.start()
        try:
            if two_cores and daemon.proc is not None:
                os.sched_setaffinity(daemon.proc.pid, {0})
            with httpx.Client(base_url=f"http://127.0.0.1:{admin}", headers={"Authorization": "Bearer test-token"},
                              timeout=30) as c:
                assert c.post("/api/v1/sms/tariffs", json={"plan": "std", "prefix": "254", "price": 1,
                                                           "currency": "EUR"}).status_code == 200
                accounts = []
                for i in range(args.accounts):
                    a = c.post("/api/v1/accounts", json={"currency": "EUR"}).json()["account"]
                    c.post(f"/api/v1/accounts/{a}/topup", json={"amount": 10**12, "ref": f"b{i}"})
                    accounts.append(a)
            result(run_load(admin, "charge", accounts, args.connections, 1.0, client_cpu))  # type: ignore[arg-type]
            healthz = result(run_load(admin, "healthz", accounts, args.connections, args.seconds,  # type: ignore[arg-type]
                                      client_cpu))
            charges = result(run_load(admin, "charge", accounts, args.connections, args.seconds,  # type: ignore[arg-type]
                                      client_cpu))
        finally:
            daemon.stop()
    return charges, healthz


async def fill(url: str, queue: str, bodies: list[bytes]) -> None:
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel(publisher_confirms=False)
        for i, body in enumerate(bodies):
            await channel.default_exchange.publish(aio_pika.Message(body, content_type="application/json"),
                                                   routing_key=queue)
            if i % 1000 == 999:
                await asyncio.sleep(0)
        q = await channel.declare_queue(queue, passive=True)
        while q.declaration_result.message_count < len(bodies):
            await asyncio.sleep(0.05)
            q = await channel.declare_queue(queue, passive=True)
    finally:
        await connection.close()


async def bare_consumer(n: int, prefetch: int) -> float:
    """Baseline: acknowledge n waiting messages with a bare aio-pika consumer."""
    name = "bench-bare-" + secrets.token_hex(4)
    connection = await aio_pika.connect(AMQP_URL)
    try:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=prefetch)
        queue = await channel.declare_queue(name, auto_delete=False)
        await fill(AMQP_URL, name, [b'{"message_id": "x", "status": "ESME_ROK"}'] * n)
        done = asyncio.Event()
        count = [0]

        async def on(message: aio_pika.abc.AbstractIncomingMessage) -> None:
            await message.ack()
            count[0] += 1
            if count[0] == n:
                done.set()

        started = time.perf_counter()
        tag = await queue.consume(on)
        await done.wait()
        elapsed = time.perf_counter() - started
        await queue.cancel(tag)
        await queue.delete()
        return n / elapsed
    finally:
        await connection.close()


async def consumer_events(dsn: str, prefix: str, n: int, prefetch: int) -> float:
    store = RedisStore(REDIS_URL, prefix)
    await store.start()
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=4)
    config = unique_config(prefetch=prefetch)
    try:
        charging = ChargingService(store, pool)
        sms = SmsService(store, pool, config)
        await sms.set_tariff(SmsTariff("std", "prefix", "254", 0, 1, "EUR"))
        accounts = []
        for i in range(64):
            a = await charging.open_account("EUR")
            await charging.top_up(a, 10**12, f"b{i}")
            accounts.append(a)
        ids = [f"e-{i}-{secrets.token_hex(3)}" for i in range(n)]
        for i in range(0, n, 500):
            await asyncio.gather(*(sms.charge(ChargeRequest(accounts[j % 64], ids[j], "254712345678"))
                                   for j in range(i, min(n, i + 500))))
        consumers = JasminConsumers(sms, config)
        consumers.start()  # declares the topology; the events wait until they are all queued
        await consumers.ready.wait()
        await consumers.stop()
        await fill(AMQP_URL, config.submit_queue,
                   [json.dumps({"message_id": m, "status": "ESME_ROK", "user": {"uid": "u"}}).encode() for m in ids])
        key = (config.submit_queue, "applied")
        consumers = JasminConsumers(sms, config)
        started = time.perf_counter()
        consumers.start()
        while metrics.events_total._counts.get(key, 0) < n:
            await asyncio.sleep(0.005)
        elapsed = time.perf_counter() - started
        await consumers.stop()
        return n / elapsed
    finally:
        await pool.close()
        await store.close()
        await delete_topology(AMQP_URL, config)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--accounts", type=int, default=64)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--prefetch", type=int, default=200)
    args = parser.parse_args()
    two_cores = shutil.which("taskset") is not None and (os.cpu_count() or 1) > 1
    if two_cores:
        os.sched_setaffinity(0, {1})
    name = "ocsd_bench_" + secrets.token_hex(4)
    prefix = "ocsbench-" + secrets.token_hex(4)
    dsn = asyncio.run(create_database(name))
    r = redis.Redis.from_url(REDIS_URL)
    try:
        charges, healthz = http_charges(dsn, prefix, args, two_cores)
        if two_cores:
            os.sched_setaffinity(0, {0})  # the consumer process on its own core, the broker on the other
        bare = asyncio.run(bare_consumer(args.events, args.prefetch))
        events = asyncio.run(consumer_events(dsn, prefix + "e", args.events, args.prefetch))
    finally:
        asyncio.run(drop_database(name))
        for key in r.scan_iter(match=prefix + "*", count=1000):
            r.delete(key)
    print(f"{os.cpu_count()} cores; {args.connections} keep-alive connections, {args.seconds:g} s per HTTP figure; "
          f"{args.events} events at prefetch {args.prefetch}")
    print(f"{'measure':<56}{'ocsd':>12}{'baseline':>12}")
    print(f"{'SMS charges/s via API (baseline: GET /healthz/s)':<56}{charges:>12,.0f}{healthz:>12,.0f}")
    print(f"{'Jasmin events/s via consumer (baseline: bare aio-pika)':<56}{events:>12,.0f}{bare:>12,.0f}")
    print(f"targets: >= 3,000 charges/s ({charges:,.0f}); >= 5,000 events/s ({events:,.0f})")


if __name__ == "__main__":
    main()
