"""S6a AIR/AIA end to end: Authentication-Information-Requests for one E-UTRAN vector per second from one
pipelining client, against the real daemon (`ocsd run`, S6a enabled, pinned to one core), with its real Redis
and PostgreSQL; and the time to make one vector (Milenage f1-f5 + KASME) in this process.

Baselines from the same run: the cost of one vector alone (its inverse is the most AIR/s one core could do if
nothing else cost anything), and the bare-framing server of bench_diameter_server (what Python's event loop
and the socket allow).

    python bench/bench_s6a.py [--requests N] [--window W] [--subscribers S]
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

from auc import Milenage, generate_eutran_vectors, make_sqn  # noqa: E402
from auc import opc as make_opc  # noqa: E402
from ocs.diameter import avp  # noqa: E402
from ocs.diameter.message import Message  # noqa: E402
from ocs.sealing import DEMO_KEY, Sealer  # noqa: E402
from ocs.services.auc import aad  # noqa: E402
from tests.integration.conftest import PG_DSN, REDIS_URL, create_database, drop_database  # noqa: E402
from tests.support.daemon_process import DaemonProcess, backends_config, free_port, write_config  # noqa: E402

MME = "mme.bench"
S6A, TGPP = 16777251, 10415
HOME = bytes.fromhex("00f110")  # MCC 001, MNC 01


def cer() -> bytes:
    return Message(257, 0, 0x80, 1, 1, [
        avp.utf8(264, MME), avp.utf8(296, "test"), avp.address(257, "127.0.0.1"), avp.u32(266, 0),
        avp.utf8(269, "bench", mandatory=False), avp.u32(265, TGPP),
        avp.grouped(260, [avp.u32(266, TGPP), avp.u32(258, S6A)])]).encode()


def air(imsi: str, n: int) -> bytes:
    """TS 29.272 §7.2.5 AIR as open5gs's MME sends it: one E-UTRAN vector, Immediate-Response-Preferred."""
    return Message(318, S6A, 0xC0, 0, 0, [
        avp.utf8(263, f"{MME};bench;{n}"), avp.grouped(260, [avp.u32(266, TGPP), avp.u32(258, S6A)]),
        avp.u32(277, 1), avp.utf8(264, MME), avp.utf8(296, "test"), avp.utf8(283, "test"), avp.utf8(1, imsi),
        avp.grouped(1408, [avp.u32(1410, 1, TGPP), avp.u32(1412, 1, TGPP)], TGPP),
        avp.octets(1407, HOME, TGPP)]).encode()


def expect_success(answer: bytes) -> None:
    m = Message.decode(answer)
    rc = m.find(268)
    if rc is None or rc.u32 != 2001 or m.find(1413, TGPP) is None:
        raise AssertionError(f"AIA without success and vectors: {m!r}")


async def provision(dsn: str, count: int) -> list[str]:
    sealer = Sealer(DEMO_KEY)
    rows = []
    for i in range(count):
        imsi = f"00101{i:010d}"
        k = secrets.token_bytes(16)
        opc = make_opc(k, secrets.token_bytes(16))
        rows.append((imsi, f"1555{i:07d}", sealer.seal(k, aad("k", imsi)), sealer.seal(opc, aad("opc", imsi))))
    conn = await asyncpg.connect(dsn)
    try:
        await conn.copy_records_to_table("subscribers", records=rows, columns=["imsi", "msisdn", "k_enc", "opc_enc"])
    finally:
        await conn.close()
    return [r[0] for r in rows]


def vector_time(rounds: int = 2000) -> float:
    m = Milenage(secrets.token_bytes(16), secrets.token_bytes(16))
    rands = [secrets.token_bytes(16) for _ in range(rounds)]
    started = time.perf_counter()
    for i, rand in enumerate(rands):
        generate_eutran_vectors(m, None, [make_sqn(i + 1, 0, 5)], b"\x80\x00", [rand], HOME)
    return (time.perf_counter() - started) / rounds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--window", type=int, default=256)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    import uvloop

    two_cores = shutil.which("taskset") is not None and (os.cpu_count() or 1) > 1
    if two_cores:
        os.sched_setaffinity(0, {1})  # the client on core 1, ocsd on core 0
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores; "
          f"{args.requests} AIRs per run over {args.subscribers} subscribers, window {args.window}, "
          f"best of {args.runs}; Redis {REDIS_URL}, PostgreSQL {PG_DSN}")
    one_vector = vector_time()

    name = "ocsd_bench_" + secrets.token_hex(4)
    prefix = "ocsbench-" + secrets.token_hex(4)
    dsn = asyncio.run(create_database(name))
    try:
        imsis = asyncio.run(provision(dsn, args.subscribers))
        templates = [air(imsi, i) for i, imsi in enumerate(imsis)]
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            config = write_config(Path(tmp) / "bench.toml", peers=[MME], diameter_port=port, admin_port=free_port(),
                                  watchdog=30, applications=("s6a",),
                                  extra=backends_config(REDIS_URL, prefix, dsn) + '\n[auc]\nhome_plmns = ["00101"]\n')
            daemon = DaemonProcess(config, module="ocsd")
            daemon.start()
            if two_cores and daemon.proc is not None:
                subprocess.run(["taskset", "-pc", "0", str(daemon.proc.pid)], check=False, capture_output=True)
            try:
                # warm-up: every subscriber's record cached in Redis and its keys opened once
                uvloop.run(run_client(port, cer(), templates, len(templates), args.window, expect_success, 1))
                rates = [uvloop.run(run_client(port, cer(), templates, args.requests, args.window, expect_success))
                         for _ in range(args.runs)]
            finally:
                daemon.kill()
    finally:
        asyncio.run(drop_database(name))
        r = redis.Redis.from_url(REDIS_URL)
        for key in r.scan_iter(match=prefix + ":*", count=1000):
            r.delete(key)
    best = max(rates)
    print(f"{'measure':<58}{'value':>14}")
    print(f"{'baseline: one E-UTRAN vector (Milenage + KASME), in-process':<58}{one_vector * 1e6:>11.1f} µs")
    print(f"{'baseline: vectors/s one core could make, nothing else':<58}{1 / one_vector:>14,.0f}")
    print(f"{'ocsd: AIR -> AIA (1 vector) end to end, requests/s':<58}{best:>14,.0f}")
    print(f"runs: {', '.join(f'{r:,.0f}' for r in rates)}; vector making is {best * one_vector:.0%} of ocsd's time "
          f"(target >= 5,000 AIR/s)")


if __name__ == "__main__":
    main()
