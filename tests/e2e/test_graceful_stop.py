"""SIGTERM with 2,000 pipelined requests in flight: every request gets its answer, then DPR/DPA, then exit 0
(issue 12 point 1; RFC 6733 §5.4). The connection stays up in Closing until our DPA."""

from __future__ import annotations

import socket
import time

from ocs.diameter import avp
from ocs.diameter.message import Message
from tests.e2e.test_diameter_base import raw_cer, read_message
from tests.support.daemon_process import DaemonProcess, free_port, write_config

REQUESTS = 2000


def ccr(i: int) -> bytes:
    return Message(272, 4, 0xC0, 10_000 + i, 20_000 + i, [
        avp.utf8(263, f"client.test;1;{i}"), avp.utf8(264, "client.test"), avp.utf8(296, "test"),
        avp.utf8(283, "test"), avp.u32(258, 4), avp.utf8(461, "32251@3gpp.org"), avp.u32(416, 1),
        avp.u32(415, 0)]).encode()


def test_sigterm_answers_everything_in_flight_then_dpr_dpa_then_exit_0(tmp_path, monkeypatch):
    monkeypatch.setenv("OCSD_ECHO_DELAY", "2.0")  # each answer takes 2 s: all 2,000 are in flight at once
    port = free_port()
    path = write_config(tmp_path / "ocsd.toml", peers=["client.test"], diameter_port=port, admin_port=free_port())
    path.write_text(path.read_text().replace("watchdog_interval = 6", "watchdog_interval = 6\nin_flight_limit = 5000"))
    daemon = DaemonProcess(path)
    try:
        daemon.start()
        with socket.create_connection(("127.0.0.1", port), timeout=20) as sock:
            sock.sendall(raw_cer("client.test"))
            assert read_message(sock).find(268).u32 == 2001
            sock.sendall(b"".join(ccr(i) for i in range(REQUESTS)))
            time.sleep(0.8)  # read by the daemon, and waiting in the handlers
            started = len(daemon.lines)
            assert daemon.proc is not None
            daemon.proc.send_signal(15)  # SIGTERM
            daemon.wait_for("stopping", 5, after=started)
            answers: set[int] = set()
            while True:
                m = read_message(sock)
                if m.command_code == 282 and m.is_request:
                    break  # the DPR
                assert m.command_code == 272 and not m.is_request and m.find(268).u32 == 2001
                answers.add(m.hop_by_hop)
            assert answers == {10_000 + i for i in range(REQUESTS)}, "every request answered before the DPR"
            # while it waits for our DPA the connection stays up: a DWR is still answered (RFC 6733 §5.6 Closing)
            sock.sendall(Message(280, 0, 0x80, 7, 7, [avp.utf8(264, "client.test"), avp.utf8(296, "test")]).encode())
            dwa = read_message(sock)
            assert dwa.command_code == 280 and not dwa.is_request and dwa.find(268).u32 == 2001
            sock.sendall(m.answer([avp.u32(268, 2001), avp.utf8(264, "client.test"), avp.utf8(296, "test")])
                         .encode())
            assert sock.recv(1) == b""  # the daemon closes after our DPA
        assert daemon.proc.wait(20) == 0
    finally:
        daemon.kill()
