"""`ocsd run --workers N` (issue 19): a supervisor process and N worker processes, each a whole daemon on its own
uvloop.

Theory of operation
-------------------
The supervisor forks the workers before any event loop exists, then only waits for signals (sigtimedwait on
SIGCHLD, SIGTERM, SIGINT: no polling). Each worker opens the Diameter, RADIUS and admin ports with SO_REUSEPORT:
the kernel hands each new TCP connection (so each Diameter peer) to one worker, and spreads RADIUS datagrams by
their source address and port (so a NAS's retransmission reaches the worker that keeps its reply). Any worker
can continue any session (state in Redis); server-initiated requests reach the worker that holds the peer's
connection through the notification stream every worker reads (ocs/services/gy_notify.py) or the forwarder
(ocs/services/forward.py).

Workers tell the supervisor through a pipe: one byte = their number when started (`ready`), the number + 0x80 at
each watchdog tick. systemd sees only the supervisor (the unit's main PID): READY=1 once every worker is ready,
WATCHDOG=1 only while every worker ticks (a worker whose loop hangs stops the pings, systemd restarts the unit),
STOPPING=1 at SIGTERM, which is passed to every worker. A worker that dies is started again after
`[daemon] restart_delay`; one that fails before it was ever ready (keys missing, Redis down) stops the whole
service with its exit status, like a single process would.

The ledger writer and housekeeping run under a Redis lease (ocs/services/lease.py) in exactly one worker; the
lease moves when its holder dies.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import structlog

from ocs.config import Config
from ocs.services.housekeeping import Housekeeping
from ocs.services.lease import ERRORS, Lease, LeaseRunner, owner_id
from ocs.store.ledger import PG_ERRORS, LedgerWriter
from ocs.systemd import Notifier

if TYPE_CHECKING:
    from ocs.backends import Backends
    from ocs.daemon import Daemon

log = structlog.get_logger("ocs.supervisor")

SIGNALS = {signal.SIGCHLD, signal.SIGTERM, signal.SIGINT}
TICK = 0x80


class WorkerNotifier(Notifier):
    """A worker's sd_notify: to the supervisor's pipe instead of systemd."""

    def __init__(self, fd: int, worker: int, watchdog_interval: float | None) -> None:
        super().__init__({})
        self.fd, self.worker = fd, worker
        self.watchdog_interval = watchdog_interval

    def _send(self, byte: int) -> None:
        with contextlib.suppress(BlockingIOError):  # the supervisor is behind: drop a tick, never block the loop
            os.write(self.fd, bytes((byte,)))

    def ready(self) -> None:
        self._send(self.worker)

    def watchdog(self) -> None:
        self._send(self.worker | TICK)

    def stopping(self) -> None:
        pass


def housekeeping_lease(daemon: Daemon, backends: Backends, make: Callable[[], Housekeeping]) -> LeaseRunner:
    """The daemon's housekeeping, started while this process holds the `housekeeping` lease."""

    async def acquired() -> None:
        daemon.housekeeping = make()
        daemon.housekeeping.start()

    async def lost() -> None:
        if daemon.housekeeping is not None:
            h, daemon.housekeeping = daemon.housekeeping, None
            await h.stop()

    lease = Lease(backends.redis, "housekeeping", owner_id(daemon.worker), daemon.config.daemon.lease_ttl)
    return LeaseRunner(lease, acquired, lost)


async def drain_ledger(backends: Backends | None) -> None:
    """Write what the ledger streams hold (a worker at stop; safe beside the lease holder's writer)."""
    if backends is None:
        return
    writer = LedgerWriter(backends.redis, backends.pool)
    try:
        await writer.drain()
    except (*PG_ERRORS, *ERRORS) as e:
        log.warning("ledger-drain-failed", error=str(e) or type(e).__name__)
    finally:
        await writer.stop(drain=False)


def _die_with_parent() -> None:
    """prctl(PR_SET_PDEATHSIG, SIGTERM): a worker stops when its supervisor dies, even by kill -9 (Linux)."""
    with contextlib.suppress(OSError, AttributeError):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG = 1


def _spawn(config: Config, worker: int, fd: int, read_fd: int, interval: float | None) -> int:
    pid = os.fork()
    if pid:
        return pid
    code = 1
    try:
        os.close(read_fd)
        _die_with_parent()
        signal.pthread_sigmask(signal.SIG_UNBLOCK, SIGNALS)
        os.environ.pop("NOTIFY_SOCKET", None)
        structlog.contextvars.bind_contextvars(worker=worker)
        from ocs.daemon import run_daemon

        code = run_daemon(config, worker=worker, notifier=WorkerNotifier(fd, worker, interval))
    finally:
        os._exit(code)


def run_workers(config: Config) -> int:
    """Supervise `config.daemon.workers` workers until SIGTERM/SIGINT; the exit status (see the module doc)."""
    n = config.daemon.workers
    systemd = Notifier()
    interval = systemd.watchdog_interval
    tick = interval / 2 if interval else None  # workers tick twice per supervisor ping
    read_fd, write_fd = os.pipe()
    os.set_blocking(read_fd, False)
    os.set_blocking(write_fd, False)
    signal.pthread_sigmask(signal.SIG_BLOCK, SIGNALS)
    children: dict[int, int] = {}  # pid -> worker
    restart_at: dict[int, float] = {}  # worker -> monotonic time
    ready: set[int] = set()
    ever_ready: set[int] = set()
    last_tick: dict[int, float] = {}
    announced = stopping = False
    status = 0
    log.info("supervisor-started", workers=n, pid=os.getpid())
    for w in range(1, n + 1):
        children[_spawn(config, w, write_fd, read_fd, tick)] = w
    next_ping = time.monotonic()

    def stop_all(sig: int = signal.SIGTERM) -> None:
        for pid in children:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)

    while children or (restart_at and not stopping):
        timeout = 1.0
        if restart_at:
            timeout = max(0.0, min(timeout, min(restart_at.values()) - time.monotonic()))
        if interval:
            timeout = max(0.0, min(timeout, next_ping - time.monotonic()))
        info = signal.sigtimedwait(SIGNALS, timeout)
        now = time.monotonic()
        try:
            data = os.read(read_fd, 4096)
        except BlockingIOError:
            data = b""
        for b in data:
            w = b & ~TICK
            last_tick[w] = now
            if not b & TICK:
                ready.add(w)
                ever_ready.add(w)
        if not announced and len(ready) == n:
            announced = True
            systemd.ready()
            log.info("workers-ready", workers=n)
        if info is not None and info.si_signo in (signal.SIGTERM, signal.SIGINT) and not stopping:
            stopping = True
            systemd.stopping()
            log.info("supervisor-stopping", signal=signal.Signals(info.si_signo).name)
            restart_at.clear()
            stop_all()
        while children:
            try:
                pid, wstatus = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                break
            if pid == 0:
                break
            w = children.pop(pid, 0)
            code = os.waitstatus_to_exitcode(wstatus)
            ready.discard(w)
            if stopping:
                status = status or (code if code > 0 else 0)
                continue
            if w not in ever_ready:
                log.error("worker-failed-at-start", worker=w, status=code)
                stopping, status = True, code if code > 0 else 1
                stop_all()
                continue
            log.error("worker-exited", worker=w, pid=pid, status=code)
            restart_at[w] = now + config.daemon.restart_delay
        for w, at in list(restart_at.items()):
            if at <= now and not stopping:
                del restart_at[w]
                children[_spawn(config, w, write_fd, read_fd, tick)] = w
                log.info("worker-restarted", worker=w)
        if interval and now >= next_ping:
            next_ping = now + interval
            alive = set(children.values())
            if all(now - last_tick.get(w, 0.0) < 2 * interval for w in alive if w in ready):
                systemd.watchdog()
    os.close(read_fd)
    os.close(write_fd)
    log.info("supervisor-stopped", status=status)
    return status


__all__ = ["WorkerNotifier", "drain_ledger", "housekeeping_lease", "run_workers"]
