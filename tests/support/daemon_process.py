"""Run the real daemon as a child process on loopback ports, for end-to-end tests and benchmarks."""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(path: Path, *, peers: list[str], diameter_port: int, admin_port: int,
                 watchdog: float = 6, extra: str = "") -> Path:
    peer_lines = "".join(f'\n[[diameter.peers]]\norigin_host = "{p}"\n' for p in peers)
    path.write_text(f"""
[node]
origin_host = "ocsd.test"
origin_realm = "test"

[diameter]
listen = ["127.0.0.1:{diameter_port}"]
watchdog_interval = {watchdog}
{peer_lines}
[admin]
listen = "127.0.0.1:{admin_port}"
token = "test-token"

[log]
level = "info"
format = "json"
{extra}
""")
    return path


@dataclass
class DaemonProcess:
    config: Path
    module: str = "tests.support.echo_daemon"
    proc: subprocess.Popen[bytes] | None = None
    lines: list[dict[str, object]] = field(default_factory=list)

    def start(self, timeout: float = 20.0) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen([sys.executable, "-m", self.module, "-c", str(self.config)], cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        self.wait_for("started", timeout)

    def wait_for(self, event: str, timeout: float = 20.0) -> dict[str, object]:
        """Read the daemon's JSON log lines until one has this event (a blocking read with a deadline)."""
        assert self.proc is not None and self.proc.stdout is not None
        for line in self.lines:
            if line.get("event") == event:
                return line
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while time.monotonic() < deadline:
                if not sel.select(deadline - time.monotonic()):
                    break
                raw = self.proc.stdout.readline()
                if not raw:
                    break
                try:
                    record = json.loads(raw)
                except ValueError:
                    record = {"event": "raw", "text": raw.decode(errors="replace")}
                self.lines.append(record)
                if record.get("event") == event:
                    return record
        raise AssertionError(f"daemon never logged {event!r}; log so far: {self.lines[-20:]}")

    def stop(self, timeout: float = 20.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.wait_for("stopped", timeout)
        except AssertionError:
            pass
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
