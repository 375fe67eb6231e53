"""The real daemon with [radius] enabled on loopback, its database and Redis prefix, and the CLI beside it."""

from __future__ import annotations

import asyncio
import json
import secrets
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.integration.conftest import REDIS_URL, create_database, drop_database
from tests.support.daemon_process import ROOT, DaemonProcess, backends_config, free_port, write_config

SECRET = "testing123"


def free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class RouterListener:
    """The router's Disconnect/CoA side (RFC 5176): a UDP listener that records each request and answers ACK
    (or never, with `answer=False`)."""

    def __init__(self, port: int, answer: bool = True, nak: bool = False) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", port))
        self.sock.settimeout(0.2)
        self.answer = answer
        self.nak = nak  # answer NAK (code + 2: Disconnect-NAK 42, CoA-NAK 45) instead of ACK
        self.received: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        from pyrad.packet import Packet

        from radius.dictionary import load_dictionary
        while not self._stop.is_set():
            try:
                data, addr = self.sock.recvfrom(4096)
            except TimeoutError:
                continue
            self.received.append(data)
            if self.answer:
                ack = Packet(code=data[0] + (2 if self.nak else 1), id=data[1], secret=SECRET.encode(),
                             authenticator=data[4:20], dict=load_dictionary())
                self.sock.sendto(ack.ReplyPacket(), addr)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self.sock.close()


@dataclass
class Hotspot:
    config: Path
    dsn: str
    prefix: str
    auth_port: int
    acct_port: int
    daemon: DaemonProcess
    admin_port: int = 0

    def metric(self, name: str, labels: dict[str, str]) -> float:
        """A sample of the daemon's /metrics (0 when absent)."""
        import urllib.request

        from prometheus_client.parser import text_string_to_metric_families
        text = urllib.request.urlopen(f"http://127.0.0.1:{self.admin_port}/metrics", timeout=5).read().decode()
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                    return float(sample.value)
        return 0.0

    def cli(self, *args: str, check: bool = True) -> dict:
        out = subprocess.run([sys.executable, "-c", "from ocs.cli import main; main()", *args, "-c", str(self.config),
                              "--json"], cwd=ROOT, capture_output=True, text=True, timeout=60)
        if check:
            assert out.returncode == 0, out.stdout + out.stderr
        return json.loads(out.stdout) if out.stdout.strip() else {}


@contextmanager
def hotspot_daemon(tmp_path: Path, radius_extra: str = "", coa_port: int = 3799) -> Iterator[Hotspot]:
    name = "ocsd_hs_" + secrets.token_hex(5)
    dsn = asyncio.run(create_database(name))
    prefix = "ocshs-" + secrets.token_hex(5)
    auth_port, acct_port = free_udp_port(), free_udp_port()
    extra = backends_config(REDIS_URL, prefix, dsn) + f"""
[radius]
enabled = true
auth_listen = "127.0.0.1:{auth_port}"
acct_listen = "127.0.0.1:{acct_port}"
interim_interval = 60
reap_interval = 0.5
coa_timeout = 1.0
coa_retries = 2
{radius_extra}

[[radius.clients]]
address = "127.0.0.1"
name = "router-1"
secret = "{SECRET}"
coa_port = {coa_port}
"""
    admin_port = free_port()
    config = write_config(tmp_path / "ocsd.toml", peers=[], diameter_port=free_port(), admin_port=admin_port,
                          extra=extra)
    daemon = DaemonProcess(config, module="ocsd")
    try:
        daemon.start()
        yield Hotspot(config, dsn, prefix, auth_port, acct_port, daemon, admin_port)
    finally:
        daemon.stop()
        asyncio.run(drop_database(name))
        r = redis.Redis.from_url(REDIS_URL)
        for key in r.scan_iter(match=prefix + ":*"):
            r.delete(key)
