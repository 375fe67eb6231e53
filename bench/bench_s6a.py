"""S6a AIR/AIA end to end: Authentication-Information-Requests for one E-UTRAN vector from one pipelining client,
against the real daemon (`ocsd run`, S6a enabled, pinned to one core, the client on the other), with its real
Redis and PostgreSQL; and the time to make one vector (Milenage f1-f5 + KASME) in this process.

Figures (issue 15 targets on 2 cores): AIR/s at 512 in flight (>= 15,000), p99 latency at 64 in flight
(<= 10 ms), and a cold cache: the Redis records of a few subscribers dropped, then thousands of AIRs in flight
for each of them (after a restart, or when SEQ blocks run out), p99 within 2x of the same run warm; the
PostgreSQL reservations it made are counted from `seq_reserved`.

Baselines from the same run: the cost of one vector alone (its inverse is the most AIR/s one core could do if
nothing else cost anything), and the trivial answerer (the same daemon with a credit-control handler that
answers 2001 without any store, tests/support/echo_daemon.py) under the same client and windows.

Reading: the daemon is one Python process on one core; an AIR costs the Diameter decode/encode, one Redis
script call and the vector itself (AES and HMAC-SHA-256 in C, the glue in Python). The trivial answerer shows
what the event loop, framing and dispatch alone allow; the gap to it is the store round trip and the vector.

    python bench/bench_s6a.py [--requests N] [--window W] [--latency-window W] [--subscribers S] [--runs R]"""

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
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import asyncpg  # noqa: E402
import redis  # noqa: E402
from pipeline import percentile, run_client  # noqa: E402

from auc import Milenage, generate_eutran_vectors, make_sqn  # noqa: E402
from auc import opc as make_opc  # noqa: E402
from ocs.diameter import avp  # noqa: E402
from ocs.diameter.message import Message  # noqa: E402
from ocs.sealing import DEMO_KEY, Sealer  # noqa: E402
from ocs.services.auc import aad  # noqa: E402
from tests.integration.conftest import REDIS_URL, create_database, drop_database  # noqa: E402
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


def ccr(n: int) -> bytes:
    """A CCR-U for the trivial answerer (it answers 2001 without a store)."""
    return Message(272, 4, 0xC0, 0, 0, [
        avp.utf8(263, f"{MME};bench;{n}"), avp.utf8(264, MME), avp.utf8(296, "test"), avp.utf8(283, "test"),
        avp.u32(258, 4), avp.utf8(461, "32251@3gpp.org"), avp.u32(416, 2), avp.u32(415, 1)]).encode()


def cer_cc() -> bytes:
    return Message(257, 0, 0x80, 1, 1, [
        avp.utf8(264, MME), avp.utf8(296, "test"), avp.address(257, "127.0.0.1"), avp.u32(266, 0),
        avp.utf8(269, "bench", mandatory=False), avp.u32(258, 4)]).encode()


class Load:
    """One daemon under the pipelining client: rate at a window, p99 at a window (ms)."""

    def __init__(self, port: int, cer: bytes, check: Callable[[bytes], None] = lambda a: None) -> None:
        self.port, self.cer, self.check = port, cer, check

    def rate(self, templates: list[bytes], requests: int, window: int) -> float:
        import uvloop
        return uvloop.run(run_client(self.port, self.cer, templates, requests, window, self.check))

    def p99(self, templates: list[bytes], requests: int, window: int) -> float:
        import uvloop
        latencies: list[float] = []
        uvloop.run(run_client(self.port, self.cer, templates, requests, window, self.check, latencies=latencies))
        return percentile(latencies, 99) * 1000


def start(config: Path, module: str, pin: bool) -> DaemonProcess:
    daemon = DaemonProcess(config, module=module)
    daemon.start()
    if pin and daemon.proc is not None:
        subprocess.run(["taskset", "-pc", "0", str(daemon.proc.pid)], check=False, capture_output=True)
    return daemon


async def reserved(dsn: str, imsis: list[str]) -> int:
    conn = await asyncpg.connect(dsn)
    try:
        return int(await conn.fetchval("SELECT sum(seq_reserved) FROM subscribers WHERE imsi = ANY($1)", imsis))
    finally:
        await conn.close()


def median(values: list[float]) -> float:
    return sorted(values)[len(values) // 2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50_000)
    parser.add_argument("--window", type=int, default=512)
    parser.add_argument("--latency-window", type=int, default=64)
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--cold-subscribers", type=int, default=8)
    parser.add_argument("--cold-requests", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    two_cores = shutil.which("taskset") is not None and (os.cpu_count() or 1) > 1
    if two_cores:
        os.sched_setaffinity(0, {1})  # the client on core 1, the daemon on core 0
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores; "
          f"{args.requests} AIRs per run over {args.subscribers} subscribers, windows {args.window} (rate) and "
          f"{args.latency_window} (p99), {args.runs} runs; cold cache: {args.cold_requests} AIRs over "
          f"{args.cold_subscribers} subscribers at window {args.window}")
    one_vector = vector_time()
    w, lw, n, runs = args.window, args.latency_window, args.requests, range(args.runs)

    with tempfile.TemporaryDirectory() as tmp:  # baseline: the trivial answerer, same client and windows
        port = free_port()
        config = write_config(Path(tmp) / "echo.toml", peers=[MME], diameter_port=port, admin_port=free_port(),
                              watchdog=30)
        daemon = start(config, "tests.support.echo_daemon", two_cores)
        try:
            load = Load(port, cer_cc())
            templates = [ccr(i) for i in range(100)]
            load.rate(templates, 2000, w)
            base_rates = [load.rate(templates, n, w) for _ in runs]
            base_p99 = [load.p99(templates, n // 2, lw) for _ in runs]
        finally:
            daemon.kill()

    name = "ocsd_bench_" + secrets.token_hex(4)
    prefix = "ocsbench-" + secrets.token_hex(4)
    dsn = asyncio.run(create_database(name))
    r = redis.Redis.from_url(REDIS_URL)
    try:
        imsis = asyncio.run(provision(dsn, args.subscribers + args.cold_subscribers))
        imsis, few = imsis[:args.subscribers], imsis[args.subscribers:]
        templates = [air(imsi, i) for i, imsi in enumerate(imsis)]
        few_templates = [air(imsi, i) for i, imsi in enumerate(few)]
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            config = write_config(Path(tmp) / "bench.toml", peers=[MME], diameter_port=port, admin_port=free_port(),
                                  watchdog=30, applications=("s6a",),
                                  extra=backends_config(REDIS_URL, prefix, dsn) + '\n[auc]\nhome_plmns = ["00101"]\n')
            daemon = start(config, "ocsd", two_cores)
            try:
                load = Load(port, cer(), expect_success)
                load.rate(templates, len(templates), w)  # warm-up: every record cached in Redis, keys opened
                load.rate(few_templates, len(few_templates), w)
                rates = [load.rate(templates, n, w) for _ in runs]
                p99s = [load.p99(templates, n // 2, lw) for _ in runs]
                cold, warm, burnt = [], [], []
                for _ in runs:
                    before = asyncio.run(reserved(dsn, few))
                    r.delete(*(f"{prefix}:{{{imsi}}}:auc" for imsi in few))  # the cache lost (Redis restarted)
                    cold.append(load.p99(few_templates, args.cold_requests, w))
                    burnt.append(asyncio.run(reserved(dsn, few)) - before)
                    warm.append(load.p99(few_templates, args.cold_requests, w))
            finally:
                daemon.kill()
    finally:
        asyncio.run(drop_database(name))
        for key in r.scan_iter(match=prefix + ":*", count=1000):
            r.delete(key)

    def row(label: str, ours: str, base: str) -> None:
        print(f"{label:<52}{ours:>14}{base:>14}")

    def runs_of(values: list[float], fmt: str) -> str:
        return ", ".join(format(v, fmt) for v in values)

    print(f"{'measure':<52}{'ocsd':>14}{'baseline':>14}")
    row("one E-UTRAN vector in-process (µs); vectors/s", f"{one_vector * 1e6:.1f}", f"{1 / one_vector:,.0f}")
    row(f"AIR/s at {w} in flight (best; baseline: trivial)", f"{max(rates):,.0f}", f"{max(base_rates):,.0f}")
    row(f"p99 ms at {lw} in flight (median of runs)", f"{median(p99s):.1f}", f"{median(base_p99):.1f}")
    row(f"cold cache: p99 ms at {w} in flight, cold (vs warm)", f"{median(cold):.1f}", f"{median(warm):.1f}")
    print(f"runs: AIR/s {runs_of(rates, ',.0f')}; trivial {runs_of(base_rates, ',.0f')}; "
          f"p99 ms {runs_of(p99s, '.1f')}; trivial p99 ms {runs_of(base_p99, '.1f')}; "
          f"cold p99 ms {runs_of(cold, '.1f')}, warm {runs_of(warm, '.1f')}")
    block = 1000  # [auc] seq_block default
    print(f"cold cache: SEQs reserved in PostgreSQL per run {runs_of(burnt, ',.0f')} for {args.cold_requests:,} used "
          f"(~{median(burnt) / block / args.cold_subscribers:.1f} reservations of {block} per subscriber)")
    print(f"vector making is {max(rates) * one_vector:.0%} of ocsd's time at the best rate")
    print(f"targets: >= 15,000 AIR/s at 512; p99 <= 10 ms at 64; cold p99 <= 2x warm "
          f"({median(cold) / median(warm):.1f}x)")


if __name__ == "__main__":
    main()
