"""Run the real daemon as a child process on loopback ports, for end-to-end tests and benchmarks."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(path: Path, *, peers: list[str], diameter_port: int, admin_port: int,
                 watchdog: float = 6, extra: str = "", applications: tuple[str, ...] = ()) -> Path:
    """A daemon config on loopback; `extra` is appended (more sections: [redis], [postgres], [keys], ...)."""
    peer_lines = "".join(f'\n[[diameter.peers]]\norigin_host = "{p}"\n' for p in peers)
    path.write_text(f"""
[node]
origin_host = "ocsd.test"
origin_realm = "test"

[diameter]
listen = ["127.0.0.1:{diameter_port}"]
watchdog_interval = {watchdog}
applications = {list(applications)!r}
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


def backends_config(redis_url: str, key_prefix: str, dsn: str, *, keys: str = "demo = true",
                    cluster: bool = False) -> str:
    """The [redis], [postgres] and [keys] sections of a daemon that holds subscribers and money (an `extra`
    for write_config); the public demo key unless `keys` says otherwise."""
    return f"""
[redis]
url = "{redis_url}"
key_prefix = "{key_prefix}"
cluster = {str(cluster).lower()}

[postgres]
dsn = "{dsn}"

[keys]
{keys}
"""


@dataclass
class DaemonProcess:
    config: Path
    module: str = "tests.support.echo_daemon"  # or "ocsd": the real `ocsd run -c FILE`
    args: tuple[str, ...] = ()  # more arguments of `ocsd run` (e.g. "--trace")
    proc: subprocess.Popen[bytes] | None = None
    lines: list[dict[str, object]] = field(default_factory=list)
    _changed: threading.Condition = field(default_factory=threading.Condition)
    _eof: bool = False

    def start(self, timeout: float = 20.0) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
        argv = ([sys.executable, "-c", "from ocs.cli import main; main()", "run"] if self.module == "ocsd"
                else [sys.executable, "-m", self.module])
        self.proc = subprocess.Popen([*argv, "-c", str(self.config), *self.args], cwd=ROOT,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env)
        self.lines, self._eof = [], False
        threading.Thread(target=self._read, args=(self.proc.stdout,), daemon=True).start()
        self.wait_for("started", timeout)

    def _read(self, stream: IO[bytes]) -> None:
        """Collect the daemon's log lines (JSON, one per line) as they come; a thread, so a wait never blocks
        on a half-read buffer."""
        for raw in stream:
            try:
                record = json.loads(raw)
            except ValueError:
                record = {"event": "raw", "text": raw.decode(errors="replace")}
            with self._changed:
                self.lines.append(record)
                self._changed.notify_all()
        with self._changed:
            self._eof = True
            self._changed.notify_all()

    def wait_for(self, event: str, timeout: float = 20.0, *, after: int = 0) -> dict[str, object]:
        """The first log line from index `after` on whose event is `event`, waiting up to `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                for line in self.lines[after:]:
                    if line.get("event") == event:
                        return line
                left = deadline - time.monotonic()
                if self._eof or left <= 0:
                    break
                self._changed.wait(left)
        raise AssertionError(f"daemon never logged {event!r}; log so far: {self.lines[-20:]}")

    def stop(self, timeout: float = 20.0) -> int:
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        with contextlib.suppress(AssertionError):
            self.wait_for("stopped", timeout)
        return self.proc.wait(timeout)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
