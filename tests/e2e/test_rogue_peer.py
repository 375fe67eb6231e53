"""The daemon against a rogue peer (issue 14): a raw-socket client writes the bytes a hostile or broken peer
would, python-diameter decodes what comes back (an independent codec).

- a peer that pipelines requests and never reads: the daemon stops reading it, its memory stays bounded, and
  every request is still answered once the peer reads again (write backpressure);
- a flood of bad CERs from one address: a bounded number of log lines, each naming `remote=address:port`;
- spoofed Origin-Host, a replayed End-to-End-Id with the T flag from another peer, a ULR from a peer not allowed
  S6a, a CER with an unknown M-bit AVP, a 1 MiB partial frame before the CER, a CER flood past the cap on
  pending connections, and a second CER on an open connection (RFC 6733 §5.3, §5.6, §6.1, §7.1).
"""

from __future__ import annotations

import asyncio
import secrets
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import pytest
import redis
from diameter.message import Message as PdMessage

from auc import opc as make_opc
from ocs.sealing import DEMO_KEY, Sealer
from ocs.services.auc import aad
from tests.integration.conftest import REDIS_URL, create_database, drop_database
from tests.support.daemon_process import DaemonProcess, backends_config, free_port

pytestmark = [pytest.mark.e2e]

TGPP, S6A, CC = 10415, 16777251, 4
HOME = bytes.fromhex("00f110")  # 001/01
MiB = 1 << 20


# --- raw Diameter, written by hand (RFC 6733 §3, §4) ---------------------------------------------------------


def avp(code: int, value: bytes, vendor: int = 0, mandatory: bool = True) -> bytes:
    flags = (0x80 if vendor else 0) | (0x40 if mandatory else 0)
    length = (12 if vendor else 8) + len(value)
    head = code.to_bytes(4, "big") + bytes([flags]) + length.to_bytes(3, "big")
    return head + (vendor.to_bytes(4, "big") if vendor else b"") + value + b"\0" * (-length % 4)


def u32(code: int, value: int, vendor: int = 0) -> bytes:
    return avp(code, value.to_bytes(4, "big"), vendor)


def text(code: int, value: str, vendor: int = 0) -> bytes:
    return avp(code, value.encode(), vendor)


def message(command: int, application: int, avps: list[bytes], *, hbh: int = 1, e2e: int = 1,
            flags: int = 0xC0) -> bytes:
    body = b"".join(avps)
    return (bytes([1]) + (20 + len(body)).to_bytes(3, "big") + bytes([flags]) + command.to_bytes(3, "big")
            + application.to_bytes(4, "big") + hbh.to_bytes(4, "big") + e2e.to_bytes(4, "big") + body)


def cer(origin_host: str, *, realm: str = "test", s6a: bool = False, extra: tuple[bytes, ...] = ()) -> bytes:
    apps = ([u32(265, TGPP), avp(260, u32(266, TGPP) + u32(258, S6A))] if s6a else [u32(258, CC)])
    return message(257, 0, [text(264, origin_host), text(296, realm), avp(257, b"\x00\x01\x7f\x00\x00\x01"),
                            u32(266, 0), avp(269, b"rogue", mandatory=False), *apps, *extra], flags=0x80)


def ccr(origin_host: str, n: int) -> bytes:
    return message(272, CC, [text(263, f"{origin_host};1;{n}"), text(264, origin_host), text(296, "test"),
                             text(283, "test"), u32(258, CC), text(461, "32251@3gpp.org"), u32(416, 1),
                             u32(415, 0)], hbh=n, e2e=n)


def read_frame(sock: socket.socket) -> bytes:
    head = _read_exactly(sock, 4)
    return head + _read_exactly(sock, int.from_bytes(head[1:4], "big") - 4)


def _read_exactly(sock: socket.socket, n: int) -> bytes:
    out = bytearray()
    while len(out) < n:
        chunk = sock.recv(n - len(out))
        if not chunk:
            raise ConnectionError("closed by the daemon")
        out += chunk
    return bytes(out)


def read_message(sock: socket.socket) -> PdMessage:
    return PdMessage.from_bytes(read_frame(sock))


def connect(port: int, *, rcvbuf: int | None = None, timeout: float = 5.0) -> socket.socket:
    sock = socket.socket()
    if rcvbuf is not None:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    sock.settimeout(timeout)
    sock.connect(("127.0.0.1", port))
    return sock


def closed_within(sock: socket.socket, seconds: float) -> bool:
    """True when the daemon closes the connection within `seconds` (whatever it writes first is skipped)."""
    sock.settimeout(seconds)
    deadline = time.monotonic() + seconds
    try:
        while time.monotonic() < deadline:
            if not sock.recv(65536):
                return True
    except (TimeoutError, socket.timeout):
        return False
    except ConnectionResetError:
        return True
    return False


def rss(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS")


def metric(admin_port: int, name: str) -> float:
    with urllib.request.urlopen(f"http://127.0.0.1:{admin_port}/metrics", timeout=5) as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " ") or line.startswith(name + "{"):
                return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"no metric {name}")


# --- the daemon ------------------------------------------------------------------------------------------------


def write_config(path: Path, *, port: int, admin_port: int, peers: str, diameter: str = "", log: str = "",
                 applications: tuple[str, ...] = (), extra: str = "") -> Path:
    path.write_text(f"""
[node]
origin_host = "ocsd.test"
origin_realm = "test"

[diameter]
listen = ["127.0.0.1:{port}"]
watchdog_interval = 30
applications = {list(applications)!r}
{diameter}
{peers}
[admin]
listen = "127.0.0.1:{admin_port}"
token = "test-token"

[log]
level = "info"
format = "json"
{log}
{extra}
""")
    return path


@dataclass
class Running:
    daemon: DaemonProcess
    port: int
    admin_port: int

    def lines(self, event: str) -> list[dict[str, object]]:
        return [line for line in list(self.daemon.lines) if line.get("event") == event]


def start(tmp_path: Path, *, module: str = "tests.support.echo_daemon", **kwargs: object) -> Running:
    port, admin_port = free_port(), free_port()
    config = write_config(tmp_path / "ocsd.toml", port=port, admin_port=admin_port, **kwargs)  # type: ignore[arg-type]
    daemon = DaemonProcess(config, module=module)
    daemon.start()
    return Running(daemon, port, admin_port)


ECHO_PEERS = '[[diameter.peers]]\norigin_host = "mme.test"\n'


@pytest.fixture
def echo(tmp_path: Path) -> Iterator[Running]:
    """The daemon with a trivial credit-control handler (answers 2001 at once) and default limits."""
    running = start(tmp_path, peers=ECHO_PEERS, log="rate_limit_interval = 1")
    try:
        yield running
    finally:
        running.daemon.kill()


# --- write backpressure (issue 14 point 2) -----------------------------------------------------------------------


def test_peer_that_never_reads_is_not_buffered_without_end(echo: Running):
    """A peer pipelines CCRs and reads nothing. Without backpressure the daemon reads them all and holds every
    answer (~70 MB per million); with it, it stops reading once 1 MiB of answers waits, so the peer's sends
    stall, the daemon's memory stays bounded, and once the peer reads again every request gets its answer."""
    sock = connect(echo.port, rcvbuf=16384)
    sock.sendall(cer("mme.test"))
    assert read_message(sock).result_code == 2001
    pid = echo.daemon.proc.pid  # type: ignore[union-attr]
    rss_before = rss(pid)

    per_chunk = 2000
    chunk = b"".join(ccr("mme.test", n) for n in range(1, per_chunk + 1))
    total_chunks = (96 * MiB) // len(chunk)
    progress = {"bytes": 0, "chunks": 0}
    stop = threading.Event()
    sock.settimeout(0.2)

    def send_all() -> None:
        view = memoryview(chunk)
        for _ in range(total_chunks):
            sent = 0
            while sent < len(chunk):
                try:
                    n = sock.send(view[sent:])
                except (TimeoutError, socket.timeout):
                    continue
                sent += n
                progress["bytes"] += n
            progress["chunks"] += 1
            if stop.is_set():
                return

    sender = threading.Thread(target=send_all, daemon=True)
    sender.start()
    last, stalled_since, deadline = -1, None, time.monotonic() + 60
    while sender.is_alive() and time.monotonic() < deadline:
        time.sleep(0.25)
        now = progress["bytes"]
        if now != last:
            last, stalled_since = now, None
        elif stalled_since is None:
            stalled_since = time.monotonic()
        elif time.monotonic() - stalled_since >= 1.5:
            break
    assert sender.is_alive(), f"the daemon read all {progress['bytes'] // MiB} MiB of requests from a peer " \
                              f"that reads nothing (its RSS grew {(rss(pid) - rss_before) // MiB} MiB)"
    grown = rss(pid) - rss_before
    buffered = metric(echo.admin_port, "diameter_write_buffer_bytes")
    pauses = metric(echo.admin_port, "diameter_read_pauses_total")
    print(f"stalled after {progress['bytes'] / MiB:.1f} MiB sent; daemon RSS +{grown / MiB:.1f} MiB, "
          f"{buffered / MiB:.2f} MiB of answers buffered, {pauses:.0f} read pauses")
    assert grown < 24 * MiB
    assert buffered <= 2 * MiB  # the high mark (1 MiB) plus the answers to one read
    assert pauses >= 1

    # the peer reads again: reading resumes and nothing was lost
    stop.set()
    answered, buf = 0, bytearray()
    read_deadline = time.monotonic() + 60
    while time.monotonic() < read_deadline:
        if not sender.is_alive() and answered >= progress["chunks"] * per_chunk:
            break
        try:
            data = sock.recv(1 << 20)
        except (TimeoutError, socket.timeout):
            continue
        assert data, "the daemon closed the connection"
        buf += data
        pos = 0
        while len(buf) - pos >= 20:
            length = int.from_bytes(buf[pos + 1:pos + 4], "big")
            if len(buf) - pos < length:
                break
            assert buf[pos + 4] & 0x80 == 0  # an answer (no DWR in this short a test)
            answered += 1
            pos += length
        del buf[:pos]
    sender.join(timeout=5)
    assert not sender.is_alive()
    assert answered == progress["chunks"] * per_chunk
    assert echo.daemon.proc.poll() is None  # type: ignore[union-attr]
    sock.close()


# --- logs an operator can act on (issue 14 point 5) ----------------------------------------------------------------


def test_flood_of_bad_cers_gives_few_log_lines_naming_the_remote(echo: Running):
    """300 connections from one address, each with a CER from an unknown Origin-Host (3010), and 50 more writing
    garbage: each event is logged once with `remote=127.0.0.1:PORT`, then summarised with its count; a
    legitimate peer is served throughout."""
    ports: list[int] = []
    started = time.monotonic()
    for _ in range(300):
        with connect(echo.port) as sock:
            ports.append(sock.getsockname()[1])
            sock.sendall(cer("stranger.test"))
            assert read_message(sock).result_code == 3010  # DIAMETER_UNKNOWN_PEER, RFC 6733 §5.3
    for _ in range(50):
        with connect(echo.port) as sock:
            sock.sendall(b"\x09\xff\xff\xffthis is not diameter at all")
            assert closed_within(sock, 5)
    with connect(echo.port) as good:
        good.sendall(cer("mme.test"))
        assert read_message(good).result_code == 2001
    echo.daemon.wait_for("unknown-peer", after=0)
    time.sleep(1.5)  # past the 1 s interval: the summaries are written
    most = 2 + int(time.monotonic() - started)  # the first line, then one summary per interval (1 s)
    refused = echo.lines("unknown-peer")
    garbage = echo.lines("framing-error")
    assert 2 <= len(refused) <= most and 2 <= len(garbage) <= most, (refused, garbage)
    first = refused[0]
    assert first["remote"] == f"127.0.0.1:{ports[0]}" and "suppressed" not in first
    assert str(garbage[0]["remote"]).startswith("127.0.0.1:")
    for line in refused[1:]:
        assert line["source"] == "127.0.0.1" and str(line["remote"]).startswith("127.0.0.1:")
    assert 1 + sum(int(line["suppressed"]) for line in refused[1:]) == 300  # type: ignore[call-overload]
    assert 1 + sum(int(line["suppressed"]) for line in garbage[1:]) == 50  # type: ignore[call-overload]
    peer_up = echo.lines("peer-up")
    assert peer_up and str(peer_up[-1]["remote"]).startswith("127.0.0.1:")
