"""RADIUS requests per second: Accounting-Requests (Interim-Update) and Access-Requests (CHAP) from a load client
on loopback to the real daemon (`ocsd run`, one process, Redis and PostgreSQL behind it), beside a bare pyrad
server that answers every request without work (no lookup, no Redis), measured in the same run.

The load client keeps `--window` requests in flight on each of `--sockets` UDP sockets; every request is
unique (Identifier, Request Authenticator and counters), so none is answered from the duplicate cache. The
figure is replies received per second over `--seconds`.

    PYTHONPATH=. .venv/bin/python bench/bench_radius.py [--seconds 5] [--vouchers 200] [--window 64] [--sockets 4]

Needs Redis (OCSD_BENCH_REDIS_URL) and PostgreSQL (OCSD_BENCH_PG_DSN); a temporary database and key prefix are
made and removed.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import secrets
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg
import redis

from ocs.services.charging import ChargingService
from ocs.services.hotspot import HotspotService
from ocs.store.migrations import migrate
from ocs.store.redis_client import RedisStore
from radius.dictionary import load_dictionary
from radius.hotspot import HotspotPackage
from radius.packets import encode_attributes
from tests.support.daemon_process import DaemonProcess, backends_config, free_port, write_config

REDIS_URL = os.environ.get("OCSD_BENCH_REDIS_URL", "redis://127.0.0.1:6379/0")
PG_DSN = os.environ.get("OCSD_BENCH_PG_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
SECRET = b"bench-secret"
ROOT = Path(__file__).resolve().parents[1]

BARE_PYRAD = """
import sys
from pyrad import server
from pyrad.dictionary import Dictionary

class Bare(server.Server):
    def HandleAuthPacket(self, pkt):
        self.SendReplyPacket(pkt.fd, self.CreateReplyPacket(pkt))
    def HandleAcctPacket(self, pkt):
        self.SendReplyPacket(pkt.fd, self.CreateReplyPacket(pkt))

srv = Bare(dict=Dictionary(sys.argv[1]), authport=int(sys.argv[2]), acctport=int(sys.argv[3]),
           hosts={"127.0.0.1": server.RemoteHost("127.0.0.1", sys.argv[4].encode(), "bench")})
srv.BindToAddress("127.0.0.1")
print("ready", flush=True)
srv.Run()
"""


def free_udp_port() -> int:
    import socket
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Load:
    """Makes unique requests: Access-Request with CHAP (the RouterOS default) or Accounting Interim-Update."""

    def __init__(self, kind: str, vouchers: list[tuple[str, str]]) -> None:
        d = load_dictionary()
        self.kind = kind
        self.n = 0
        self.fixed: list[bytes] = []
        for code, klass in vouchers:
            if kind == "auth":
                challenge = secrets.token_bytes(16)
                chap = b"\x01" + hashlib.md5(b"\x01" + code.encode() + challenge).digest()
                self.fixed.append(encode_attributes(d, [("User-Name", code), ("CHAP-Password", chap),
                                                        ("CHAP-Challenge", challenge),
                                                        ("Calling-Station-Id", "AA:BB:CC:DD:EE:01"),
                                                        ("NAS-IP-Address", "127.0.0.1")]))
            else:
                self.fixed.append(encode_attributes(d, [("User-Name", code), ("Class", klass.encode()),
                                                        ("Acct-Status-Type", "Interim-Update"),
                                                        ("Acct-Session-Id", "bench-" + code),
                                                        ("Acct-Input-Octets", 0), ("Acct-Output-Octets", 0)]))

    def packet(self, identifier: int) -> bytes:
        self.n += 1
        body = self.fixed[self.n % len(self.fixed)]
        if self.kind == "auth":
            header = struct.pack("!BBH", 1, identifier, 20 + len(body))
            return header + secrets.token_bytes(16) + body
        # Acct-Session-Time grows with every packet of the session: a positive delta each time
        body += struct.pack("!BBI", 46, 6, self.n // len(self.fixed) + 1)
        header = struct.pack("!BBH", 4, identifier, 20 + len(body))
        return header + hashlib.md5(header + bytes(16) + body + SECRET).digest() + body


class Client(asyncio.DatagramProtocol):
    def __init__(self, load: Load, window: int, counter: list[int]) -> None:
        self.load, self.window, self.counter = load, window, counter
        self.transport: asyncio.DatagramTransport | None = None
        self.next_id = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        for _ in range(self.window):
            self.send()

    def send(self) -> None:
        assert self.transport is not None
        self.next_id = (self.next_id + 1) & 0xFF
        self.transport.sendto(self.load.packet(self.next_id))

    def datagram_received(self, data: bytes, addr: object) -> None:
        self.counter[0] += 1
        self.send()


async def measure(port: int, load: Load, seconds: float, window: int, sockets: int) -> float:
    loop = asyncio.get_running_loop()
    counter = [0]
    transports = []
    for _ in range(sockets):
        t, _ = await loop.create_datagram_endpoint(lambda: Client(load, window, counter),
                                                   remote_addr=("127.0.0.1", port))
        transports.append(t)
    await asyncio.sleep(0.5)  # warm-up
    start_count, start = counter[0], time.perf_counter()
    await asyncio.sleep(seconds)
    rate = (counter[0] - start_count) / (time.perf_counter() - start)
    for t in transports:
        t.close()
    await asyncio.sleep(0.2)
    return rate


async def provision(dsn: str, prefix: str, count: int) -> list[tuple[str, str]]:
    conn = await asyncpg.connect(dsn)
    await migrate(conn)
    await conn.close()
    store = RedisStore(REDIS_URL, prefix)
    await store.start()
    pool = await asyncpg.create_pool(dsn, min_size=1, max_size=2)
    try:
        hs = HotspotService(store, pool)
        await hs.create_package(HotspotPackage("bench", "bench", 10**9, None, "2M/4M", 24 * 365, 1000, 0))
        codes = await hs.generate_vouchers(ChargingService(store, pool), "bench", count, length=10, currency="USD")
        return [(c, "ocsd:" + (await hs.redis.account_of("voucher", c) or "")) for c in codes]
    finally:
        await pool.close()
        await store.close()


async def main(args: argparse.Namespace) -> None:
    db = "ocsd_bench_" + secrets.token_hex(4)
    admin = await asyncpg.connect(PG_DSN)
    await admin.execute(f'CREATE DATABASE "{db}"')
    dsn = PG_DSN.rpartition("/")[0] + "/" + db
    prefix = "ocsbench-" + secrets.token_hex(4)
    tmp = Path(tempfile.mkdtemp())
    auth_port, acct_port, bare_auth, bare_acct = (free_udp_port() for _ in range(4))
    daemon = bare = None
    try:
        vouchers = await provision(dsn, prefix, args.vouchers)
        extra = backends_config(REDIS_URL, prefix, dsn) + f"""
[radius]
enabled = true
auth_listen = "127.0.0.1:{auth_port}"
acct_listen = "127.0.0.1:{acct_port}"

[[radius.clients]]
address = "127.0.0.1"
secret = "{SECRET.decode()}"
"""
        config = write_config(tmp / "ocsd.toml", peers=[], diameter_port=free_port(), admin_port=free_port(),
                              extra=extra.replace('level = "info"', 'level = "warning"'))
        daemon = DaemonProcess(config, module="ocsd")
        daemon.start()
        bare = subprocess.Popen([sys.executable, "-c", BARE_PYRAD, str(ROOT / "dictionaries/radius/dictionary"),
                                 str(bare_auth), str(bare_acct), SECRET.decode()], stdout=subprocess.PIPE)
        assert bare.stdout is not None and bare.stdout.readline().strip() == b"ready"
        acct, auth = Load("acct", vouchers), Load("auth", vouchers)
        w, s, secs = args.window, args.sockets, args.seconds
        print(f"load: {s} sockets x {w} in flight, {secs:.0f} s each, {len(vouchers)} vouchers")
        ocsd_acct = await measure(acct_port, acct, secs, w, s)
        bare_acct_rate = await measure(bare_acct, acct, secs, w, s)
        ocsd_auth = await measure(auth_port, auth, secs, w, s)
        bare_auth_rate = await measure(bare_auth, auth, secs, w, s)
        print(f"Accounting-Request/s   ocsd {ocsd_acct:9.0f}   bare pyrad server {bare_acct_rate:9.0f}   "
              f"(target >= 10000)")
        print(f"Access-Request/s CHAP  ocsd {ocsd_auth:9.0f}   bare pyrad server {bare_auth_rate:9.0f}   "
              f"(target >= 8000)")
    finally:
        if bare is not None:
            bare.kill()
            bare.wait()
        if daemon is not None:
            daemon.stop()
        await admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        await admin.close()
        r = redis.Redis.from_url(REDIS_URL)
        for key in r.scan_iter(match=prefix + ":*"):
            r.delete(key)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--vouchers", type=int, default=200)
    parser.add_argument("--window", type=int, default=64)
    parser.add_argument("--sockets", type=int, default=4)
    asyncio.run(main(parser.parse_args()))
