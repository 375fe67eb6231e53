"""A lease in Redis (issue 19): the ledger writer and housekeeping run in exactly one process at a time among all
workers and hosts sharing the Redis, and move to another process when their holder dies.

Theory of operation: the lease is one key, `<p>:lease:<name>`, holding the owner's id with a time to live.
Every process tries `SET key owner NX PX ttl` every `ttl/3` seconds; the one that set it holds the lease and
renews it (a script: PEXPIRE only if the value is still its own) at the same pace. A holder that dies stops
renewing: the key expires after at most `ttl` and the next try of another process takes it (Redis docs, "SET":
the NX + PX lock pattern, single instance). A holder that cannot renew for `ttl` (Redis unreachable, the loop
stalled) stops its jobs before another may start them. Two holders for a moment are harmless anyway: the
ledger writer is idempotent by entry id in PostgreSQL and every reaper/expiry step is a script that changes
only what is still due. A clean stop deletes the key (only if still its own) so a successor starts at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
from collections.abc import Awaitable, Callable

import structlog

from ocs.metrics import lease_changes_total, lease_held
from ocs.store.redis_client import RedisStore, ReplyError

log = structlog.get_logger("ocs.lease")

RENEW = """if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0"""
RELEASE = """if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0"""
ERRORS = (OSError, ConnectionError, TimeoutError, ReplyError)


def owner_id(worker: int) -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{worker}"


class Lease:
    def __init__(self, store: RedisStore, name: str, owner: str, ttl: float) -> None:
        self.store, self.name, self.owner = store, name, owner
        self.key = f"{store.prefix}:lease:{name}"
        self.ttl_ms = max(1, int(ttl * 1000))

    async def acquire(self) -> bool:
        return await self.store.pipeline.call("SET", self.key, self.owner, "NX", "PX", self.ttl_ms) == "OK"

    async def renew(self) -> bool:
        return bool(await self.store.pipeline.call("EVAL", RENEW, 1, self.key, self.owner, self.ttl_ms))

    async def release(self) -> None:
        await self.store.pipeline.call("EVAL", RELEASE, 1, self.key, self.owner)

    async def holder(self) -> str | None:
        return await self.store.pipeline.call("GET", self.key)  # type: ignore[no-any-return]


class LeaseRunner:
    """Runs `on_acquired` when the lease is taken and `on_lost` when it is lost or at stop."""

    def __init__(self, lease: Lease, on_acquired: Callable[[], Awaitable[None]],
                 on_lost: Callable[[], Awaitable[None]]) -> None:
        self.lease = lease
        self.on_acquired, self.on_lost = on_acquired, on_lost
        self.held = False
        self._last_ok = 0.0
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run(), name=f"lease-{self.lease.name}")

    async def step(self) -> None:
        now = time.monotonic()
        ttl = self.lease.ttl_ms / 1000
        try:
            ok = await (self.lease.renew() if self.held else self.lease.acquire())
        except ERRORS as e:
            log.warning("lease-redis-failed", lease=self.lease.name, error=str(e) or type(e).__name__)
            if self.held and now - self._last_ok > ttl * 0.8:  # another process may take it soon: stop first
                await self._lose("renewal failed")
            return
        if ok:
            self._last_ok = now
            if not self.held:
                self.held = True
                lease_held.labels(self.lease.name).set(1)
                lease_changes_total.labels(self.lease.name, "acquired").inc()
                log.info("lease-acquired", lease=self.lease.name, owner=self.lease.owner)
                await self.on_acquired()
        elif self.held:
            await self._lose("taken over")

    async def _lose(self, reason: str) -> None:
        self.held = False
        lease_held.labels(self.lease.name).set(0)
        lease_changes_total.labels(self.lease.name, "lost").inc()
        log.warning("lease-lost", lease=self.lease.name, owner=self.lease.owner, reason=reason)
        await self.on_lost()

    async def run(self) -> None:
        while not self._stop.is_set():
            await self.step()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.lease.ttl_ms / 3000)

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            await self._task
            self._task = None
        if self.held:
            self.held = False
            lease_held.labels(self.lease.name).set(0)
            await self.on_lost()
            with contextlib.suppress(*ERRORS):
                await self.lease.release()
            log.info("lease-released", lease=self.lease.name, owner=self.lease.owner)


__all__ = ["Lease", "LeaseRunner", "owner_id"]
