"""The asyncio transport in-process on loopback: write backpressure and the close of a connection whose peer
does not read (ocs/transport/diameter.py)."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest
from structlog.testing import capture_logs

from ocs import metrics
from ocs.diameter.capabilities import LocalIdentity
from ocs.diameter.dictionary import default_dictionary_dir, load_dictionary
from ocs.diameter.node import Node, NodeSettings, PeerConfig
from ocs.transport.diameter import DiameterServer
from tests.e2e.test_rogue_peer import ccr, cer
from tests.support.echo_daemon import echo_dispatch

pytestmark = [pytest.mark.e2e]

HIGH, LOW = 64 * 1024, 16 * 1024


def sample(name: str) -> float:
    value = metrics.REGISTRY.get_sample_value(name)
    assert value is not None, name
    return value


async def serve(close_grace: float = 5.0, settings: NodeSettings | None = None,
                notice_interval: float = 10.0, host: str = "127.0.0.1") -> tuple[DiameterServer, int]:
    dispatch = echo_dispatch("ocsd.test", "test")
    node = Node(LocalIdentity("ocsd.test", "test", applications=dispatch.applications), [PeerConfig("mme.test")],
                load_dictionary([default_dictionary_dir()]), dispatch.commands, settings)
    server = DiameterServer(node, dispatch, write_buffer_high=HIGH, write_buffer_low=LOW, close_grace=close_grace,
                            notice_interval=notice_interval)
    listener = await server.listen(host, 0)
    server.start()
    return server, listener.sockets[0].getsockname()[1]


async def never_reading_peer(port: int) -> socket.socket:
    """A peer that passed its CER, then pipelines CCRs until the daemon stops reading it; reads nothing."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    await loop.sock_sendall(sock, cer("mme.test"))
    chunk = b"".join(ccr("mme.test", n) for n in range(1, 1001))
    pauses = sample("ocsd_diameter_read_pauses_total")
    sender = asyncio.ensure_future(loop.sock_sendall(sock, chunk * 200))  # 30 MB: far more than it can take
    deadline = loop.time() + 30  # the kernel takes a few MB of answers first: how long that is depends on load
    while sample("ocsd_diameter_read_pauses_total") == pauses and not sender.done() and loop.time() < deadline:
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)  # paused: nothing more is read
    assert not sender.done(), "the transport read every request from a peer that reads nothing"
    sender.cancel()
    return sock


async def test_never_reading_peer_pauses_reading_within_the_marks():
    server, port = await serve(close_grace=0.3)
    pauses = sample("ocsd_diameter_read_pauses_total")
    sock = await never_reading_peer(port)
    try:
        assert sample("ocsd_diameter_read_pauses_total") > pauses
        buffered = server.write_buffer_size()
        assert LOW <= buffered <= HIGH + 512 * 1024  # under the high mark plus the answers to one read
        assert sample("ocsd_diameter_write_buffer_bytes") == buffered
    finally:
        sock.close()
        await server.stop(grace=0.5)


async def test_closed_connection_whose_peer_never_reads_is_aborted_after_the_grace():
    """Stopping sends a DPR the peer never reads; the connection is closed with answers still buffered. Without
    the grace it would stay open for as long as the peer keeps its window shut."""
    server, port = await serve(close_grace=0.3)
    sock = await never_reading_peer(port)
    loop = asyncio.get_running_loop()
    try:
        await server.stop(grace=0.2)
        started = time.monotonic()
        while not server.node.all_closed and time.monotonic() - started < 3:  # connection_lost reached it
            await asyncio.sleep(0.05)
        assert server.node.all_closed
        assert time.monotonic() - started < 2
        with pytest.raises(ConnectionResetError):  # aborted: an RST, not an orderly close
            while await asyncio.wait_for(loop.sock_recv(sock, 1 << 16), 3):
                pass
    finally:
        sock.close()


async def test_cer_timeouts_are_logged_with_the_remote_and_summarised():
    """Five connections from one address that never send their CER: one `cer-timeout` line naming the first
    one's address and port, then one summary with suppressed=4 (and stop tells what is still counted)."""
    server, port = await serve(settings=NodeSettings(cer_timeout=0.2), notice_interval=0.5)
    loop = asyncio.get_running_loop()
    socks = []
    with capture_logs() as logs:
        for _ in range(5):
            sock = socket.socket()
            sock.setblocking(False)
            await loop.sock_connect(sock, ("127.0.0.1", port))
            socks.append(sock)
        await asyncio.sleep(1.0)
        await server.stop(grace=0.1)
    first_port = socks[0].getsockname()[1]
    for sock in socks:
        sock.close()
    lines = [line for line in logs if line["event"] == "cer-timeout"]
    assert lines[0]["remote"] == f"127.0.0.1:{first_port}" and "suppressed" not in lines[0]
    assert [line["suppressed"] for line in lines[1:]] == [4]
    assert lines[1]["source"] == "127.0.0.1"


async def test_ipv6_remote_is_bracketed():
    """A framing error from an IPv6 peer names it as "[address]:port" (the form `listen` takes)."""
    try:
        server, port = await serve(host="::1")
    except OSError:
        pytest.skip("no IPv6 loopback")
    loop = asyncio.get_running_loop()
    sock = socket.socket(socket.AF_INET6)
    sock.setblocking(False)
    with capture_logs() as logs:
        await loop.sock_connect(sock, ("::1", port))
        await loop.sock_sendall(sock, b"\x09\xff\xff\xffnot diameter")
        assert await asyncio.wait_for(loop.sock_recv(sock, 16), 3) == b""  # closed
        await server.stop(grace=0.1)
    local_port = sock.getsockname()[1]
    sock.close()
    [line] = [line for line in logs if line["event"] == "framing-error"]
    assert line["remote"] == f"[::1]:{local_port}"
