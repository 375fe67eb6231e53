"""Gx (policy control) assembled from the config and the backends: the decisions of ocs.apps.gx over the
session store (ocs.store.gx_redis) and the plans in PostgreSQL, every call behind a store guard (a store down
or hung: a transient answer). A CCR-I reads the subscriber's plan code from PostgreSQL (once per PDN session);
plans are kept in memory for PLAN_CACHE seconds."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import asyncpg
import structlog

from ocs.apps.gx import Gx
from ocs.backends import Backends
from ocs.config import Config
from ocs.policy.plans import Plan
from ocs.services.gy_notify import notify
from ocs.services.plans import get_plan
from ocs.store.guard import StoreGuard
from ocs.store.gx_redis import GxRedis
from ocs.store.redis_client import RedisStore
from ocs.subscribers.errors import UnknownUser

log = structlog.get_logger("ocs.gx")

PLAN_CACHE = 30.0  # seconds a plan read from PostgreSQL is used before it is read again
USAGE_TTL = 62 * 86400  # a billing month's usage counter outlives the month


def throttle_key(store: RedisStore, account: str) -> str:
    """Set while the account's data has run out (fair use): its PCEF sessions are throttled."""
    return f"{store.prefix}:gxthr:{{{account}}}"


def usage_key(store: RedisStore, imsi: str, month: str) -> str:
    """Octets the SIM reported under usage monitoring in the billing month ("YYYYMM")."""
    return f"{store.prefix}:gxuse:{{{imsi}}}:{month}"


async def mark_throttled(store: RedisStore, account: str) -> None:
    """Mark the account throttled (once: SET NX) and, the first time, put a `throttle` notification on the
    stream (the Gx notifier sends the account's sessions the throttle RAR)."""
    if await store.pipeline.call("SET", throttle_key(store, account), "1", "NX"):
        await notify(store, kind="throttle", account=account)


def exhausted_hook(store: RedisStore) -> Callable[[str], None]:
    """What Gy calls when an account's data runs out (a last grant or a 4012): the account is marked throttled
    (once: SET NX) and, the first time, a `throttle` notification goes on the notification stream, where the Gx
    notifier (ocs.services.gx_notify) sends each of the account's PCEF sessions the throttle RAR."""
    tasks: set[asyncio.Task[None]] = set()

    async def mark(account: str) -> None:
        try:
            await mark_throttled(store, account)
        except (OSError, ConnectionError, TimeoutError) as e:
            log.warning("gx-throttle-mark-failed", account=account, error=str(e) or type(e).__name__)

    def hook(account: str) -> None:
        task = asyncio.get_running_loop().create_task(mark(account))
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    return hook


class GxService:
    """GxStore over Redis (sessions) and PostgreSQL (subscribers' plan codes, plans)."""

    def __init__(self, redis: GxRedis, pool: asyncpg.Pool, redis_guard: StoreGuard, pg_guard: StoreGuard) -> None:
        self.redis = redis
        self.pool = pool
        self.rg = redis_guard
        self.pg = pg_guard
        self._plans: dict[str, tuple[float, Plan | None]] = {}

    async def _subscriber(self, imsi: str | None, msisdn: str | None) -> tuple[str, str | None]:
        for column, value in (("imsi", imsi), ("msisdn", msisdn)):
            if value is not None:
                row = await self.pool.fetchrow(f"SELECT imsi, plan_code FROM subscribers WHERE {column} = $1", value)
                if row is not None:
                    return row["imsi"], row["plan_code"]
        raise UnknownUser(imsi or msisdn or "")

    async def subscriber(self, imsi: str | None, msisdn: str | None) -> tuple[str, str | None]:
        return await self.pg.call(self._subscriber, imsi, msisdn)

    async def plan(self, code: str) -> Plan | None:
        now = time.monotonic()
        cached = self._plans.get(code)
        if cached is not None and cached[0] > now:
            return cached[1]
        plan = await self.pg.call(get_plan, self.pool, code)
        self._plans[code] = (now + PLAN_CACHE, plan)
        return plan

    async def account(self, imsi: str) -> str | None:
        store = self.redis.store
        found = await self.rg.call(store.pipeline.call, "GET", f"{store.prefix}:imsi:{{{imsi}}}")
        return None if found is None else found.decode() if isinstance(found, bytes) else str(found)

    async def throttled(self, account: str) -> bool:
        store = self.redis.store
        return bool(await self.rg.call(store.pipeline.call, "EXISTS", throttle_key(store, account)))

    async def used(self, imsi: str, month: str) -> int:
        store = self.redis.store
        return int(await self.rg.call(store.pipeline.call, "GET", usage_key(store, imsi, month)) or 0)

    async def add_usage(self, imsi: str, month: str, octets: int) -> int:
        store = self.redis.store
        key = usage_key(store, imsi, month)
        total = int(await self.rg.call(store.pipeline.call, "INCRBY", key, octets))
        await self.rg.call(store.pipeline.call, "EXPIRE", key, USAGE_TTL)
        return total

    async def mark_throttled(self, account: str) -> None:
        await self.rg.call(mark_throttled, self.redis.store, account)

    async def set_fields(self, session_id: str, fields: dict[str, str]) -> None:
        await self.rg.call(self.redis.set_fields, session_id, fields)

    async def open(self, session_id: str, n: int, fields: dict[str, str]) -> dict[str, str]:
        return await self.rg.call(self.redis.open, session_id, n, fields)

    async def update(self, session_id: str, n: int) -> dict[str, str]:
        return await self.rg.call(self.redis.update, session_id, n)

    async def close(self, session_id: str, n: int) -> dict[str, str]:
        return await self.rg.call(self.redis.close, session_id, n)


def gx_store(config: Config, redis: RedisStore) -> GxRedis:
    return GxRedis(redis, lifetime=config.gx.session_lifetime, answer_ttl=config.gx.answer_ttl)


def gx_application(config: Config, backends: Backends) -> Gx:
    service = GxService(gx_store(config, backends.redis), backends.pool,
                        StoreGuard("redis", config.redis.timeout), StoreGuard("postgres", config.postgres.timeout))
    return Gx(config.node.origin_host, config.node.origin_realm, service, config.gx.default_plan)


__all__ = ["GxService", "exhausted_hook", "gx_application", "gx_store", "mark_throttled", "throttle_key",
           "usage_key"]
