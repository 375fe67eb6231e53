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
import contextlib
import secrets
import socket
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
from diameter.message import Message as PdMessage

from tests.integration.conftest import REDIS_URL, create_database, drop_database
from tests.support.daemon_process import DaemonProcess, backends_config, free_port
from tests.support.raw_s6a import provision

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
    except TimeoutError:
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
                except TimeoutError:
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
            if metric(echo.admin_port, "ocsd_diameter_read_pauses_total") >= 1:
                break
            stalled_since = None  # a daemon starved of CPU, not a paused one: wait on
    assert sender.is_alive(), f"the daemon read all {progress['bytes'] // MiB} MiB of requests from a peer " \
                              f"that reads nothing (its RSS grew {(rss(pid) - rss_before) // MiB} MiB)"
    grown = rss(pid) - rss_before
    buffered = metric(echo.admin_port, "ocsd_diameter_write_buffer_bytes")
    pauses = metric(echo.admin_port, "ocsd_diameter_read_pauses_total")
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
        except TimeoutError:
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


# --- peers that claim to be someone else, or use what they may not (issue 14 points 1 and 4) ----------------------

HSS_PEERS = """
[[diameter.peers]]
origin_host = "mme.test"
realm = "test"
applications = ["s6a"]

[[diameter.peers]]
origin_host = "pgw.test"
realm = "test"
applications = ["gx", "gy"]

[[diameter.peers]]
origin_host = "dra.test"
realm = "test"
relay = true
"""


@dataclass
class Hss(Running):
    dsn: str = ""

    def add_subscriber(self) -> str:
        imsi = f"00101{secrets.randbelow(10**10):010d}"
        asyncio.run(provision(self.dsn, imsi))
        return imsi


@pytest.fixture
def hss(tmp_path: Path) -> Iterator[Hss]:
    """The daemon as HSS (S6a on Redis and PostgreSQL) plus the echo Gy application, with three peers: the MME
    (S6a only), the PGW (Gx and Gy only) and a DRA (a relay)."""
    name = "ocsd_rogue_" + secrets.token_hex(5)
    dsn = asyncio.run(create_database(name))
    prefix = "ocsrogue-" + secrets.token_hex(5)
    running: Running | None = None
    try:
        running = start(tmp_path, module="tests.support.rogue_daemon", peers=HSS_PEERS, applications=("s6a",),
                        extra=backends_config(REDIS_URL, prefix, dsn) + '\n[auc]\nhome_plmns = ["00101"]\n')
        yield Hss(running.daemon, running.port, running.admin_port, dsn)
    finally:
        if running is not None:
            running.daemon.kill()
        asyncio.run(drop_database(name))
        r = redis.Redis.from_url(REDIS_URL)
        for key in r.scan_iter(match=prefix + ":*"):
            r.delete(key)


def s6a_common(origin_host: str, imsi: str, n: int) -> list[bytes]:
    return [text(263, f"{origin_host};{n};{secrets.token_hex(3)}"),
            avp(260, u32(266, TGPP) + u32(258, S6A)), u32(277, 1), text(264, origin_host), text(296, "test"),
            text(283, "test"), text(1, imsi)]


def air(origin_host: str, imsi: str, *, hbh: int, e2e: int, retransmit: bool = False) -> bytes:
    return message(318, S6A, [*s6a_common(origin_host, imsi, hbh), avp(1407, HOME, TGPP),
                              avp(1408, u32(1410, 1, TGPP) + u32(1412, 1, TGPP), TGPP)],
                   hbh=hbh, e2e=e2e, flags=0xC0 | (0x10 if retransmit else 0))


def ulr(origin_host: str, imsi: str, *, hbh: int, e2e: int) -> bytes:
    return message(316, S6A, [*s6a_common(origin_host, imsi, hbh), u32(1032, 1004, TGPP),
                              u32(1405, 0b100010, TGPP), avp(1407, HOME, TGPP)], hbh=hbh, e2e=e2e)


def result_of(answer: PdMessage) -> int:
    if getattr(answer, "result_code", None) is not None:
        return int(answer.result_code)  # type: ignore[attr-defined]
    return int(answer.experimental_result.experimental_result_code)  # type: ignore[attr-defined]


def rands(answer: PdMessage) -> list[bytes]:
    info = getattr(answer, "authentication_info", None)
    return [v.rand for v in info.e_utran_vector] if info is not None else []


def open_peer(port: int, origin_host: str) -> socket.socket:
    """A raw connection that passed its CER: S6a and credit control offered, the CEA is 2001."""
    sock = connect(port)
    sock.sendall(cer(origin_host, s6a=True, extra=(u32(258, CC),)))
    cea = read_message(sock)
    assert cea.result_code == 2001, cea
    return sock


@pytest.mark.integration  # Redis and PostgreSQL behind the HSS
def test_spoofed_origin_host_is_refused(hss: Hss):
    """The PGW sends an AIR naming the MME as its Origin-Host: 3010, no vectors (RFC 6733 §6.1, §7.1.3)."""
    imsi = hss.add_subscriber()
    with open_peer(hss.port, "pgw.test") as pgw:
        pgw.sendall(air("mme.test", imsi, hbh=7, e2e=7))
        answer = read_message(pgw)
    assert answer.header.hop_by_hop_identifier == 7
    assert result_of(answer) == 3010 and rands(answer) == []


@pytest.mark.integration  # Redis and PostgreSQL behind the HSS
def test_replayed_end_to_end_id_does_not_return_another_peers_answer(hss: Hss):
    """The MME's AIR is answered with vectors. The PGW replays it (T flag, the MME's Origin-Host and
    End-to-End-Id): refused, not the MME's AIA. The DRA, a relay allowed to name others, replaying it gets an
    answer of its own (new vectors), not the MME's cached one: the duplicate cache is the peer's own."""
    imsi = hss.add_subscriber()
    with open_peer(hss.port, "mme.test") as mme, open_peer(hss.port, "pgw.test") as pgw, \
            open_peer(hss.port, "dra.test") as dra:
        mme.sendall(air("mme.test", imsi, hbh=1, e2e=0xABC001))
        first = read_message(mme)
        assert result_of(first) == 2001 and len(rands(first)) == 1
        pgw.sendall(air("mme.test", imsi, hbh=2, e2e=0xABC001, retransmit=True))
        replay = read_message(pgw)
        assert rands(replay) == [] and result_of(replay) == 3010
        dra.sendall(air("mme.test", imsi, hbh=3, e2e=0xABC001, retransmit=True))
        relayed = read_message(dra)
        assert relayed.header.hop_by_hop_identifier == 3
        assert result_of(relayed) == 2001 and rands(relayed) and rands(relayed) != rands(first)
        # the MME's own retransmission still gets its cached answer (RFC 6733 §6.2)
        mme.sendall(air("mme.test", imsi, hbh=4, e2e=0xABC001, retransmit=True))
        again = read_message(mme)
        assert again.header.hop_by_hop_identifier == 4 and rands(again) == rands(first)


@pytest.mark.integration  # Redis and PostgreSQL behind the HSS
def test_ulr_from_a_peer_not_allowed_s6a_is_refused(hss: Hss):
    """The PGW (allowed Gx and Gy) sends a ULR registering itself for an IMSI: 3007, and its Gy works."""
    imsi = hss.add_subscriber()
    with open_peer(hss.port, "pgw.test") as pgw:
        pgw.sendall(ulr("pgw.test", imsi, hbh=5, e2e=5))
        answer = read_message(pgw)
        assert result_of(answer) == 3007  # DIAMETER_APPLICATION_UNSUPPORTED, RFC 6733 §7.1.3
        assert answer.header.is_error
        pgw.sendall(ccr("pgw.test", 6))
        assert result_of(read_message(pgw)) == 2001
    with open_peer(hss.port, "mme.test") as mme:  # the MME may
        mme.sendall(ulr("mme.test", imsi, hbh=8, e2e=8))
        assert result_of(read_message(mme)) == 2001


@pytest.mark.integration  # Redis and PostgreSQL behind the HSS
def test_second_cer_on_an_open_connection_loses_no_answer_in_flight(hss: Hss):
    """50 AIRs pipelined, then a second CER on the same connection (RFC 6733 §5.6: R-Conn-CER in R-Open): every
    AIR still gets its AIA; the peer can connect again afterwards."""
    imsi = hss.add_subscriber()
    with open_peer(hss.port, "mme.test") as mme:
        mme.sendall(b"".join(air("mme.test", imsi, hbh=100 + i, e2e=100 + i) for i in range(50))
                    + cer("mme.test", s6a=True))
        answers: list[PdMessage] = []
        mme.settimeout(10)
        try:
            while len([a for a in answers if a.header.command_code == 318]) < 50:
                answers.append(read_message(mme))
        except ConnectionError:
            pass
    airs = [a for a in answers if a.header.command_code == 318]
    assert sorted(a.header.hop_by_hop_identifier for a in airs) == list(range(100, 150))
    assert all(result_of(a) == 2001 for a in airs)
    time.sleep(0.5)
    with open_peer(hss.port, "mme.test") as mme:
        mme.sendall(air("mme.test", imsi, hbh=1, e2e=1))
        assert result_of(read_message(mme)) == 2001


# --- bounded before the CER, and the CER's own checks (issue 14 points 2 and 4) -----------------------------------


@pytest.fixture
def capped(tmp_path: Path) -> Iterator[Running]:
    """The echo daemon with a small cap on connections that have not passed their CER."""
    running = start(tmp_path, peers=ECHO_PEERS, log="rate_limit_interval = 1",
                    diameter="max_pending_connections = 8\nmax_connections = 64")
    try:
        yield running
    finally:
        running.daemon.kill()


def test_cer_with_an_unknown_mandatory_avp_gets_5001(echo: Running):
    """RFC 6733 §7.1.5 (and §5.3: a CER is checked like any message): CEA 5001 with the AVP in Failed-AVP."""
    with connect(echo.port) as sock:
        sock.sendall(cer("mme.test", extra=(avp(99999, b"rogue"),)))
        cea = read_message(sock)
        assert cea.result_code == 5001  # DIAMETER_AVP_UNSUPPORTED
        failed = cea.failed_avp.additional_avps  # type: ignore[attr-defined]
        assert [a.code for a in failed] == [99999]
        assert closed_within(sock, 2)


def test_megabyte_partial_frame_before_the_cer_is_cut_quickly(echo: Running):
    """A header announcing 1 MiB and most of it, never finished: the connection is closed at once, not held
    (and buffered) until the CER timeout; a legitimate peer is served meanwhile."""
    with connect(echo.port) as sock:
        sock.sendall(bytes([1]) + MiB.to_bytes(3, "big") + bytes([0x80]) + (257).to_bytes(3, "big")
                     + bytes(12))
        started = time.monotonic()
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):  # closed while we still write
            sock.sendall(bytes(MiB - 4096))
        assert closed_within(sock, 2)
        assert time.monotonic() - started < 2
    with connect(echo.port) as good:
        good.sendall(cer("mme.test"))
        assert read_message(good).result_code == 2001


def test_connection_flood_is_capped_and_a_legitimate_peer_still_connects(capped: Running):
    """40 connections at once, no CER yet: past max_pending_connections (8) they are closed at once; the rest
    send CERs from an unknown host (3010). The configured peer then connects and gets 2001; the refusals are
    logged with the remote address, a few lines for all of them."""
    flood = [connect(capped.port) for _ in range(40)]
    try:
        time.sleep(0.5)
        refused = [s for s in flood if closed_within(s, 0.2)]
        assert len(refused) >= 40 - 8
        for s in flood:
            if s not in refused:
                s.sendall(cer("stranger.test"))
                assert read_message(s).result_code == 3010
    finally:
        for s in flood:
            s.close()
    with connect(capped.port) as good:
        good.sendall(cer("mme.test"))
        assert read_message(good).result_code == 2001
        good.sendall(ccr("mme.test", 1))
        assert read_message(good).result_code == 2001
    time.sleep(1.5)
    limit_lines = [line for line in list(capped.daemon.lines) if line.get("event") == "connection-limit"]
    assert 1 <= len(limit_lines) <= 4
    assert all(str(line["remote"]).startswith("127.0.0.1:") for line in limit_lines)
    assert 1 + sum(int(line.get("suppressed", 0)) for line in limit_lines[1:]) == len(refused)  # type: ignore[call-overload]
