"""Background work of a daemon that holds money: the ledger writer, the stale-reservation reaper, bundle
expiry, and re-reading tariffs and the catalog (changed by `ocsd tariff set` / `bundle create` in another
process) every `expire_interval`. Each runs as its own task.

Theory of operation: every job runs in the same loop (`_run`). A pass that fails because Redis or PostgreSQL
is unreachable (or answers an error) is logged once per outage (`housekeeping-failed`, with the error), then
retried after a back-off that doubles from `backoff_min` up to `backoff_max`; the first pass that succeeds
again logs `housekeeping-recovered` with the number of failed attempts and resets the back-off. Any other
exception is a bug: it is logged with its traceback every time, and retried the same way, so a job never
dies quietly and never spins. The ledger writer is one of these jobs (`LedgerWriter.write_once`, which itself
blocks on XREAD until entries arrive), so it obeys the same rules.

Several ocsd processes may run these at once against the same Redis and PostgreSQL: the ledger writer is
idempotent by entry id, and the reaper and expiry scripts are atomic per subscriber.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import asyncpg
import redis.exceptions
import structlog

from ocs.metrics import (
    housekeeping_runs_total,
    ledger_entries_written_total,
    ledger_lag_seconds,
    ledger_write_failures_total,
)
from ocs.services.charging import ChargingService
from ocs.store.ledger import PG_ERRORS, LedgerWriter
from ocs.store.redis_client import ReplyError

log = structlog.get_logger("ocs.housekeeping")

# An unreachable or failing store: the job waits and tries again (OSError covers the ConnectionError the
# pipelined Redis client raises; ReplyError covers e.g. LOADING while a restarted Redis reads its AOF;
# InternalClientError is asyncpg's "cannot switch to state" on a connection whose server process was ended).
STORE_ERRORS: tuple[type[BaseException], ...] = (*PG_ERRORS, asyncpg.exceptions.InternalClientError,
                                                 redis.exceptions.RedisError, ReplyError)


@dataclass
class Housekeeping:
    charging: ChargingService
    reap_interval: float
    reservation_max_age: float
    expire_interval: float
    backoff_min: float = 0.5     # first retry after a failed pass, doubled per further failure
    backoff_max: float = 30.0    # the longest wait between attempts while a store is down
    # more jobs: (name, interval, pass returning what it changed), e.g. the Gy reaper, the hotspot's
    jobs: list[tuple[str, float, Callable[[], Awaitable[int]]]] = field(default_factory=list)
    # flushes run once at stop, after the ledger's (e.g. the Gy CDR writer's drain); a store down is logged
    flushes: list[tuple[str, Callable[[], Awaitable[int]]]] = field(default_factory=list)
    writer: LedgerWriter = field(init=False)
    attempts: Counter[str] = field(default_factory=Counter)  # passes tried, by job (tests count them)
    failures: Counter[str] = field(default_factory=Counter)  # passes failed, by job
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.writer = LedgerWriter(self.charging.store, self.charging.pool,
                                   on_written=ledger_entries_written_total.inc,
                                   on_failure=ledger_write_failures_total.inc)
        ledger_lag_seconds.set_function(self.writer.lag)

    def start(self) -> None:
        self._stop.clear()
        jobs: list[tuple[str, float, Callable[[], Awaitable[int]]]] = [
            ("ledger", 0.0, self._write_ledger),   # no pause: write_once waits on XREAD for new entries
            ("reap", self.reap_interval, self._reap),
            ("expire", self.expire_interval, self._expire),
            ("reload", self.expire_interval, self._reload),
            *self.jobs,
        ]
        self._tasks = [asyncio.create_task(self._run(name, interval, job), name=f"housekeeping-{name}")
                       for name, interval, job in jobs]

    async def _write_ledger(self) -> int:
        return await self.writer.write_once(self.writer.block_ms)

    async def _reap(self) -> int:
        return await self.charging.reap_stale(self.reservation_max_age)

    async def _expire(self) -> int:
        return await self.charging.expire_bundles()

    async def _reload(self) -> int:
        """Tariffs and the bundle catalog changed by the CLI (another process) reach this one."""
        await self.charging.load()
        return 0

    def backoff(self, failures: int) -> float:
        """The wait after the `failures`-th failure in a row (>= 1): doubling, capped."""
        return min(self.backoff_min * 2 ** min(failures - 1, 32), self.backoff_max)

    async def _run(self, name: str, interval: float, job: Callable[[], Awaitable[int]]) -> None:
        failed = 0  # failures in a row: the current outage
        while not self._stop.is_set():
            self.attempts[name] += 1
            try:
                n = await job()
            except STORE_ERRORS as e:
                failed += 1
                self._failed(name, failed)
                if failed == 1:  # once per outage; the recovery line carries the count
                    log.warning("housekeeping-failed", job=name, error=str(e) or type(e).__name__,
                                error_type=type(e).__name__, retry_in=self.backoff(failed))
            except Exception as e:
                failed += 1
                self._failed(name, failed)
                log.exception("housekeeping-bug", job=name, error_type=type(e).__name__, error=str(e),
                              retry_in=self.backoff(failed))
            else:
                housekeeping_runs_total.labels(name, "ok").inc()
                if failed:
                    log.info("housekeeping-recovered", job=name, failed_attempts=failed)
                    failed = 0
                if n and name != "ledger":
                    log.info("housekeeping", job=name, changed=n)
                if interval <= 0:
                    continue
            await self._pause(self.backoff(failed) if failed else interval)

    def _failed(self, name: str, failed: int) -> None:
        self.failures[name] += 1
        housekeeping_runs_total.labels(name, "error").inc()
        if name == "ledger":
            self.writer.failures += 1
            self.writer.on_failure()

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def stop(self) -> None:
        """Stop the jobs, then flush the ledger to PostgreSQL (when it is reachable)."""
        self._stop.set()
        for t in self._tasks:
            await t
        self._tasks = []
        await self.writer.stop(drain=True)
        for name, flush in self.flushes:
            try:
                await flush()
            except STORE_ERRORS as e:
                log.warning("flush-failed", job=name, error=str(e) or type(e).__name__)


__all__ = ["STORE_ERRORS", "Housekeeping"]
