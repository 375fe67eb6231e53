"""Gy CCR-U/s end to end: the real daemon (`ocsd run`, gy enabled, pinned to one core) with its real Redis and
PostgreSQL, sessions spread over 10,000 accounts, from one pipelining client; CCR-Us with 1 and with 3 MSCC
(each one Redis script call: commit the used units, grant the next ones); then p50/p99 latency at half the
peak rate.

Baseline from the same run, with the same client and the same requests: the trivial handler
(`tests.support.echo_daemon`: credit control answered 2001 without any store), the ceiling of the daemon's
transport, decoding and dispatch on this machine.

    python bench/bench_gy.py [--accounts N] [--requests N] [--window W] [--runs R]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import asyncpg  # noqa: E402
import redis  # noqa: E402
from pipeline import run_client  # noqa: E402

from ocs.diameter import avp  # noqa: E402
from ocs.diameter.message import Message  # noqa: E402
from tests.integration.conftest import PG_DSN, REDIS_URL, create_database, drop_database  # noqa: E402
from tests.support.daemon_process import DaemonProcess, backends_config, free_port, write_config  # noqa: E402

PGW = "pgw.bench"
RGS = (10, 11, 12)
USED = 1000  # octets reported per MSCC per CCR-U (1 cent at the bench tariff)


def cer() -> bytes:
    return Message(257, 0, 0x80, 1, 1, [
        avp.utf8(264, PGW), avp.utf8(296, "test"), avp.address(257, "127.0.0.1"), avp.u32(266, 0),
        avp.utf8(269, "bench", mandatory=False), avp.u32(258, 4)]).encode()


def ccr(session: str, kind: int, number: int, imsi: str, rgs: tuple[int, ...], used: int) -> bytes:
    """A CCR as the open5gs SMF sends it (Destination-Realm only, IMSI and E164), one MSCC per rating group."""
    msccs = []
    for rg in rgs:
        members = [avp.u32(432, rg), avp.grouped(437, [avp.u64(421, 0)])]
        if used:
            members.append(avp.grouped(446, [avp.u64(421, used)]))
        msccs.append(avp.grouped(456, members))
    return Message(272, 4, 0xC0, 0, 0, [
        avp.utf8(263, session), avp.utf8(264, PGW), avp.utf8(296, "test"), avp.utf8(283, "test"), avp.u32(258, 4),
        avp.utf8(461, "32251@3gpp.org"), avp.u32(416, kind), avp.u32(415, number),
        avp.grouped(443, [avp.u32(450, 1), avp.utf8(444, imsi)]),
        avp.grouped(443, [avp.u32(450, 0), avp.utf8(444, "49" + imsi[-9:])]), *msccs]).encode()


def expect_success(answer: bytes) -> None:
    m = Message.decode(answer)
    rc = m.find(268)
    if rc is None or rc.u32 != 2001:
        raise AssertionError(f"CCA without success: {m!r}")


async def provision(dsn: str, prefix: str, accounts: int) -> list[str]:
    """Accounts with a large balance (PostgreSQL rows and their Redis state and identity index), and tariffs."""
    imsis = [f"00101{i:010d}" for i in range(accounts)]
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table("subscribers", records=[(i, "49" + i[-9:], b"\0" * 44, b"\0" * 44)
                                                                 for i in imsis],
                                         columns=["imsi", "msisdn", "k_enc", "opc_enc"])
        await conn.copy_records_to_table("accounts", records=[(i, "EUR") for i in imsis],
                                         columns=["account_id", "currency"])
        for rg in RGS:
            await conn.execute("INSERT INTO tariffs (rating_group, unit, unit_size, price_home, price_roaming, "
                               "currency) VALUES ($1, 'octets', 1000, 1, 5, 'EUR')", rg)
    finally:
        await conn.close()
    r = redis.Redis.from_url(REDIS_URL)
    pipe = r.pipeline(transaction=False)
    for i in imsis:
        pipe.hset(f"{prefix}:{{{i}}}:acct", mapping={"bal": 10**12, "held": 0, "cur": "EUR", "seq": 0})
        pipe.set(f"{prefix}:imsi:{{{i}}}", i)
    pipe.execute()
    return imsis


async def paced(port: int, templates: list[bytes], rate: float, seconds: float) -> tuple[float, float, int]:
    """Send at `rate` requests/s for `seconds`; the p50 and p99 latency (ms) of the answers."""
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(cer())
    head = await reader.readexactly(4)
    await reader.readexactly(int.from_bytes(head[1:4], "big") - 4)
    total = min(int(rate * seconds), len(templates))
    sent_at: dict[int, float] = {}
    latencies: list[float] = []

    async def send() -> None:
        started = time.perf_counter()
        for i in range(total):
            due = started + i / rate
            delay = due - time.perf_counter()
            if delay > 0.0005:
                await asyncio.sleep(delay)
            t = templates[i]
            ident = (i + 10).to_bytes(4, "big")
            sent_at[i + 10] = time.perf_counter()
            writer.write(t[:12] + ident + ident + t[20:])

    sender = asyncio.create_task(send())
    buf = bytearray()
    while len(latencies) < total:
        chunk = await reader.read(1 << 16)
        if not chunk:
            raise ConnectionError("server closed the connection")
        now = time.perf_counter()
        buf += chunk
        pos = 0
        while len(buf) - pos >= 20:
            length = int.from_bytes(buf[pos + 1:pos + 4], "big")
            if len(buf) - pos < length:
                break
            hbh = int.from_bytes(buf[pos + 12:pos + 16], "big")
            latencies.append(now - sent_at.pop(hbh))
            pos += length
        del buf[:pos]
    await sender
    writer.close()
    latencies.sort()
    return latencies[len(latencies) // 2] * 1000, latencies[int(len(latencies) * 0.99)] * 1000, total


def start(module: str, config: Path, pin: bool) -> DaemonProcess:
    daemon = DaemonProcess(config, module=module)
    daemon.start()
    if pin and daemon.proc is not None:
        subprocess.run(["taskset", "-pc", "0", str(daemon.proc.pid)], check=False, capture_output=True)
    return daemon


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--accounts", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=60_000, help="CCR-Us per run")
    parser.add_argument("--window", type=int, default=256)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of the latency measurement")
    parser.add_argument("--paced-rate", type=float, default=0.0,
                        help="requests/s of the latency measurement (default: half the 1-MSCC peak of each)")
    args = parser.parse_args()
    import uvloop

    pin = shutil.which("taskset") is not None and (os.cpu_count() or 1) > 1
    if pin:
        os.sched_setaffinity(0, {1})  # the client on core 1, the daemon on core 0
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores; {args.requests} "
          f"CCR-U per run over {args.accounts} accounts (one session each), window {args.window}, best of "
          f"{args.runs}; Redis {REDIS_URL}, PostgreSQL {PG_DSN}")
    name = "ocsd_bench_" + secrets.token_hex(4)
    prefix = "ocsbench-" + secrets.token_hex(4)
    dsn = asyncio.run(create_database(name))
    results: dict[str, float] = {}
    try:
        imsis = asyncio.run(provision(dsn, prefix, args.accounts))
        sessions = [f"{PGW};{i}" for i in range(len(imsis))]
        rounds = -(-args.requests // len(imsis)) * (args.runs + 1) + 2

        def updates(rgs: tuple[int, ...], first_number: int) -> list[bytes]:
            """Distinct (session, CC-Request-Number) for every request: none is a retransmission."""
            return [ccr(s, 2, first_number + k, imsi, rgs, USED)
                    for k in range(rounds) for s, imsi in zip(sessions, imsis, strict=True)]

        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            extra = backends_config(REDIS_URL, prefix, dsn) + '\n[charging]\ncurrency = "EUR"\n' + \
                '\n[gy]\ngrant_octets = 1000000\n'
            for label, module, apps in (("baseline", "tests.support.echo_daemon", ()), ("ocsd", "ocsd", ("gy",))):
                config = write_config(Path(tmp) / f"{label}.toml", peers=[PGW], diameter_port=port,
                                      admin_port=free_port(), watchdog=30, applications=apps, extra=extra)
                daemon = start(module, config, pin)
                try:
                    initial = [ccr(s, 1, 0, imsi, RGS, 0) for s, imsi in zip(sessions, imsis, strict=True)]
                    uvloop.run(run_client(port, cer(), initial, len(initial), args.window, expect_success, 1))
                    for rgs in (RGS[:1], RGS):
                        templates = updates(rgs, 1 if len(rgs) == 1 else 1 + rounds)
                        rates = []
                        for run in range(args.runs):
                            chunk = templates[run * args.requests:(run + 1) * args.requests]
                            rates.append(uvloop.run(run_client(port, cer(), chunk, len(chunk), args.window,
                                                               expect_success)))
                        results[f"{label} {len(rgs)}"] = max(rates)
                        if len(rgs) == 1:
                            rest = templates[args.runs * args.requests:]
                            rate = args.paced_rate or max(rates) / 2
                            p50, p99, n = uvloop.run(paced(port, rest, rate, args.seconds))
                            results[f"{label} rate"], results[f"{label} p50"] = rate, p50
                            results[f"{label} p99"], results[f"{label} n"] = p99, n
                finally:
                    daemon.kill()
    finally:
        asyncio.run(drop_database(name))
        r = redis.Redis.from_url(REDIS_URL)
        for key in r.scan_iter(match=prefix + ":*", count=1000):
            r.delete(key)
    print(f"{'measure':<52}{'baseline (trivial handler)':>28}{'ocsd gy':>12}")
    for mscc in (1, 3):
        print(f"{f'CCR-U/s, {mscc} MSCC per request':<52}{results[f'baseline {mscc}']:>28,.0f}"
              f"{results[f'ocsd {mscc}']:>12,.0f}")
    paced_label = "paced rate (half the 1-MSCC peak)" if not args.paced_rate else "paced rate (--paced-rate)"
    for key, label in (("rate", f"{paced_label}, requests/s"), ("p50", "p50 latency, ms"),
                       ("p99", "p99 latency, ms")):
        print(f"{label:<52}{results[f'baseline {key}']:>28,.2f}{results[f'ocsd {key}']:>12,.2f}")
    print(f"ocsd gy reaches {results['ocsd 1'] / results['baseline 1']:.0%} of the trivial handler with 1 MSCC "
          f"(target >= 10,000 CCR-U/s with 1 MSCC; p99 <= 10 ms at 5,000/s)")


if __name__ == "__main__":
    main()
