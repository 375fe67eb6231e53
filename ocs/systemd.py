"""sd_notify(3) without libsystemd: READY, WATCHDOG and STOPPING datagrams to $NOTIFY_SOCKET."""

from __future__ import annotations

import os
import socket


class Notifier:
    def __init__(self, environ: dict[str, str] | None = None) -> None:
        env = os.environ if environ is None else environ
        path = env.get("NOTIFY_SOCKET", "")
        if path.startswith("@"):  # abstract namespace
            path = "\0" + path[1:]
        self._path = path or None
        usec = env.get("WATCHDOG_USEC", "")
        # systemd.service(5): ping at least every WatchdogSec; half the interval is the usual margin
        self.watchdog_interval = int(usec) / 2_000_000 if usec.isdigit() and int(usec) > 0 else None

    @property
    def enabled(self) -> bool:
        return self._path is not None

    def notify(self, state: str) -> None:
        if self._path is None:
            return
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
            sock.setblocking(False)
            sock.sendto(state.encode(), self._path)

    def ready(self) -> None:
        self.notify("READY=1")

    def watchdog(self) -> None:
        self.notify("WATCHDOG=1")

    def stopping(self) -> None:
        self.notify("STOPPING=1")
