"""systemd readiness and watchdog pings (sd_notify), /metrics on the admin port, SIGTERM exits 0."""

from __future__ import annotations

import os
import socket
import urllib.request

from tests.support.daemon_process import DaemonProcess, free_port, write_config


def test_sd_notify_ready_watchdog_stopping_and_metrics(tmp_path, monkeypatch):
    notify_path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(notify_path))
    sock.settimeout(10)
    monkeypatch.setenv("NOTIFY_SOCKET", str(notify_path))
    monkeypatch.setenv("WATCHDOG_USEC", "400000")  # ping every 0.2 s
    admin = free_port()
    daemon = DaemonProcess(write_config(tmp_path / "ocsd.toml", peers=["mme.test"], diameter_port=free_port(),
                                        admin_port=admin))
    try:
        daemon.start()
        got = {sock.recv(100).decode() for _ in range(3)}
        assert "READY=1" in got and "WATCHDOG=1" in got
        with urllib.request.urlopen(f"http://127.0.0.1:{admin}/metrics", timeout=5) as response:
            text = response.read().decode()
        assert "ocsd_diameter_peers" in text
        assert daemon.stop() == 0
        rest = []
        sock.settimeout(0.5)
        try:
            while True:
                rest.append(sock.recv(100).decode())
        except TimeoutError:
            pass
        assert "STOPPING=1" in rest
    finally:
        daemon.kill()
        sock.close()
        os.environ.pop("NOTIFY_SOCKET", None)
