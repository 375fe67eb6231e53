"""The daemon on loopback with python-diameter as the peer: CER/CEA, DWR/DWA, a request, DPR on stop,
an unknown Origin-Host refused, garbage closing only its own connection (RFC 6733 §5)."""

from __future__ import annotations

import logging
import socket
import time

import pytest
from diameter.message.commands import CreditControlRequest
from diameter.node import Node as PdNode
from diameter.node.application import SimpleThreadingApplication

from ocs.diameter import avp
from ocs.diameter.message import Message
from tests.support.daemon_process import DaemonProcess, free_port, write_config


@pytest.fixture
def daemon(tmp_path):
    port, admin = free_port(), free_port()
    d = DaemonProcess(write_config(tmp_path / "ocsd.toml", peers=["mme.test"], diameter_port=port,
                                   admin_port=admin))
    d.port = port  # type: ignore[attr-defined]
    d.start()
    yield d
    d.kill()


def pd_client(origin_host: str, port: int) -> tuple[PdNode, SimpleThreadingApplication]:
    node = PdNode(origin_host, "test", vendor_ids=[0, 10415])
    node.idle_timeout = 1  # python-diameter sends a DWR after one idle second
    node.wakeup_interval = 1
    peer = node.add_peer(f"aaa://ocsd.test:{port};transport=tcp", "test", ip_addresses=["127.0.0.1"],
                         is_persistent=True, is_default=True)
    app = SimpleThreadingApplication(4, is_auth_application=True, request_handler=lambda app, msg: None)
    node.add_application(app, [peer])
    return node, app


def raw_cer(origin_host: str) -> bytes:
    return Message(257, 0, 0x80, 1, 1, [
        avp.utf8(264, origin_host), avp.utf8(296, "test"), avp.address(257, "127.0.0.1"), avp.u32(266, 0),
        avp.utf8(269, "raw", mandatory=False), avp.u32(258, 4)]).encode()


def read_message(sock: socket.socket) -> Message:
    head = b""
    while len(head) < 4:
        chunk = sock.recv(4 - len(head))
        assert chunk, "connection closed"
        head += chunk
    length = int.from_bytes(head[1:4], "big")
    body = head
    while len(body) < length:
        chunk = sock.recv(length - len(body))
        assert chunk
        body += chunk
    return Message.decode(body)


def test_python_diameter_peer_full_cycle(daemon):
    seen: list[str] = []

    class Watch(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            seen.append(record.getMessage())

    handler = Watch()
    logging.getLogger("diameter").addHandler(handler)
    logging.getLogger("diameter").setLevel(logging.INFO)
    node, app = pd_client("mme.test", daemon.port)
    try:
        node.start()
        app.wait_for_ready(timeout=10)
        daemon.wait_for("peer-up")
        ccr = CreditControlRequest()
        ccr.session_id = "mme.test;1;1"
        ccr.origin_host = b"mme.test"
        ccr.origin_realm = b"test"
        ccr.destination_realm = b"test"
        ccr.auth_application_id = 4
        ccr.service_context_id = "32251@3gpp.org"
        ccr.cc_request_type = 1
        ccr.cc_request_number = 0
        answer = app.send_request(ccr, timeout=5)
        assert answer.result_code == 2001
        assert answer.session_id == "mme.test;1;1"
        deadline = time.monotonic() + 10
        while not any("got DWA" in s for s in seen) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert any("got DWA" in s for s in seen), "python-diameter's DWR was answered with a DWA"
        assert daemon.stop() == 0
        assert any("sending DPA" in s for s in seen), "ocsd sent a DPR when it stopped"
    finally:
        node.stop(wait_timeout=2, force=True)
        logging.getLogger("diameter").removeHandler(handler)


def test_unknown_origin_host_is_refused(daemon):
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=5) as sock:
        sock.sendall(raw_cer("stranger.test"))
        cea = read_message(sock)
        assert cea.command_code == 257 and cea.find(268).u32 == 3010  # DIAMETER_UNKNOWN_PEER
        assert sock.recv(1) == b""  # and the connection is closed


def test_garbage_closes_that_connection_only(daemon):
    with socket.create_connection(("127.0.0.1", daemon.port), timeout=5) as good:
        good.sendall(raw_cer("mme.test"))
        assert read_message(good).find(268).u32 == 2001
        with socket.create_connection(("127.0.0.1", daemon.port), timeout=5) as bad:
            bad.sendall(b"\x09\xff\xff\xffthis is not diameter at all")
            assert bad.recv(1) == b""
        # the first connection still serves
        good.sendall(Message(280, 0, 0x80, 2, 2, [avp.utf8(264, "mme.test"), avp.utf8(296, "test")]).encode())
        dwa = read_message(good)
        assert dwa.command_code == 280 and dwa.find(268).u32 == 2001
    assert daemon.proc.poll() is None
