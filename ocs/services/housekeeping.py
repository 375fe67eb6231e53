"""Background work of a daemon that holds money: the ledger writer, the stale-reservation reaper, bundle
expiry, and re-reading tariffs and the catalog (changed by `ocsd tariff set` / `bundle create` in another
process) every `expire_interval`. Each runs as its own task; a failure of one pass is logged and counted,
and the next pass retries.

Several ocsd processes may run these at once against the same Redis and PostgreSQL: the ledger writer is
idempotent by entry id, and the reaper and expiry scripts are atomic per subscriber.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from ocs.metrics import housekeeping_runs_total, ledger_entries_written_total, ledger_write_failures_total
from ocs.services.charging import ChargingService
from ocs.store.ledger import PG_ERRORS, LedgerWriter

log = structlog.get_logger("ocs.housekeeping")


@dataclass
class Housekeeping:
    charging: ChargingService
    reap_interval: float
    reservation_max_age: float
    expire_interval: float
    writer: LedgerWriter = field(init=False)
    _tasks: list[asyncio.Task[None]] = field(default_factory=list)
    _stop: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.writer = LedgerWriter(self.charging.store, self.charging.pool,
                                   on_written=ledger_entries_written_total.inc,
                                   on_failure=ledger_write_failures_total.inc)

    def start(self) -> None:
        self._stop.clear()
        self.writer.start()
        self._tasks = [
            asyncio.create_task(self._every(self.reap_interval, "reap", self._reap), name="reaper"),
            asyncio.create_task(self._every(self.expire_interval, "expire", self._expire), name="expiry"),
            asyncio.create_task(self._every(self.expire_interval, "reload", self._reload), name="catalog-reload"),
        ]

    async def _reap(self) -> int:
        return await self.charging.reap_stale(self.reservation_max_age)

    async def _expire(self) -> int:
        return await self.charging.expire_bundles()

    async def _reload(self) -> int:
        """Tariffs and the bundle catalog changed by the CLI (another process) reach this one."""
        await self.charging.load()
        return 0

    async def _every(self, interval: float, name: str, job: Callable[[], Awaitable[int]]) -> None:
        while not self._stop.is_set():
            try:
                n = await job()
            except (*PG_ERRORS, ConnectionError) as e:
                housekeeping_runs_total.labels(name, "error").inc()
                log.warning("housekeeping-failed", job=name, error=str(e))
            else:
                housekeeping_runs_total.labels(name, "ok").inc()
                if n:
                    log.info("housekeeping", job=name, changed=n)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), interval)

    async def stop(self) -> None:
        """Stop the periodic jobs, then flush the ledger to PostgreSQL (when it is reachable)."""
        self._stop.set()
        for t in self._tasks:
            await t
        self._tasks = []
        await self.writer.stop(drain=True)


__all__ = ["Housekeeping"]
