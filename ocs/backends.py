"""Redis, PostgreSQL and the key sealer, opened together for the daemon and the CLI."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import asyncpg

from ocs.config import Config
from ocs.sealing import Sealer, SealingError, sealer_for
from ocs.store.redis_client import RedisStore
from ocs.store.redis_cluster import make_store

if TYPE_CHECKING:
    from ocs.services.charging import ChargingService
    from ocs.sms.service import SmsService


@dataclass
class Backends:
    redis: RedisStore
    pool: asyncpg.Pool
    keys: Sealer | SealingError  # the sealer, or why there is none (opened with keys=False)
    # the daemon's charging service (tariffs and catalog in memory, reloaded by housekeeping), once started
    charging: ChargingService | None = None
    sms: SmsService | None = None  # the daemon's SMS service (issue 18): the Gy hook prices SMS events with it

    @property
    def sealer(self) -> Sealer:
        if isinstance(self.keys, SealingError):
            raise self.keys
        return self.keys

    async def close(self) -> None:
        await self.redis.close()
        await self.pool.close()


def store_for(config: Config) -> RedisStore:
    r = config.redis
    return make_store(r.url, r.key_prefix.rstrip(":") or "ocsd", cluster=r.cluster, seeds=r.seeds,
                      sentinels=r.sentinels, sentinel_master=r.sentinel_master, wait_replicas=r.wait_replicas,
                      wait_timeout=r.wait_timeout)


async def open_backends(config: Config, *, max_connections: int = 8, keys: bool = True) -> Backends:
    """Refuses (SealingError) without a key file unless the config is in demo mode; raises OSError or
    asyncpg's errors when Redis or PostgreSQL cannot be reached. With `keys=False` (money only: the ledger
    writer and housekeeping) a missing key file is refused only when `sealer` is used."""
    sealer: Sealer | SealingError
    try:
        sealer = sealer_for(config.keys)
    except SealingError as e:
        if keys:
            raise
        sealer = e
    redis = store_for(config)
    await redis.start()
    try:
        pool = await asyncpg.create_pool(config.postgres.dsn, min_size=1, max_size=max_connections)
    except BaseException:
        await redis.close()
        raise
    return Backends(redis, pool, sealer)


__all__ = ["Backends", "open_backends", "store_for"]
