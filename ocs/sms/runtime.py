"""SMS billing in the daemon: the service (shared by the admin API and the Gy hook), the tariff reload job and,
when `[sms] enabled`, the Jasmin consumers (started after the listeners, stopped before the ledger flush)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import asyncpg
import structlog

from ocs.backends import Backends
from ocs.config import Config
from ocs.sms.consumer import JasminConsumers
from ocs.sms.records import SmsRecordWriter
from ocs.sms.service import SmsService

log = structlog.get_logger("ocs.sms")
RELOAD_INTERVAL = 30.0  # seconds between reloads of the tariffs (changes made by the CLI in another process)
RECORD_INTERVAL = 1.0  # seconds between passes of the record writer (Redis -> PostgreSQL sms_messages)


class SmsRuntime:
    def __init__(self, config: Config, backends: Backends) -> None:
        self.config = config
        self.service = SmsService(backends.redis, backends.pool, config.sms)
        self.consumers: JasminConsumers | None = None
        self.records = SmsRecordWriter(backends.redis, backends.pool, pg_timeout=config.postgres.timeout)

    async def load(self) -> None:
        try:
            await self.service.load()
        except asyncpg.UndefinedTableError:  # a database not migrated to 013 yet: SMS charging finds no tariff
            log.warning("sms-tariffs-missing", hint="run: ocsd db migrate")

    def jobs(self) -> list[tuple[str, float, Callable[[], Awaitable[int]]]]:
        async def reload() -> int:
            await self.load()
            return 0
        return [("sms-tariffs", RELOAD_INTERVAL, reload), ("sms-records", RECORD_INTERVAL, self.records.write_once)]

    def flushes(self) -> list[tuple[str, Callable[[], Awaitable[int]]]]:
        """At stop, after the consumers: the records still in Redis go to PostgreSQL."""
        return [("sms-records", self.records.drain)]

    def start(self) -> None:
        if self.config.sms.enabled:
            self.consumers = JasminConsumers(self.service, self.config.sms, store_timeout=self.config.redis.timeout)
            self.consumers.start()

    async def stop(self) -> None:
        if self.consumers is not None:
            await self.consumers.stop()


__all__ = ["SmsRuntime"]
