"""Gy (online charging) assembled from the config and the backends: the decisions of ocs.apps.gy over the
one-script session store (ocs.store.gy_redis) behind a store guard (Redis down or hung: a transient answer).
The hot path reads tariffs from the charging service's memory and touches Redis only, never PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from typing import Any

from ocs.apps.gy import Gy, Item
from ocs.apps.gy_messages import CreditControlRequest
from ocs.backends import Backends
from ocs.charging.model import Unit
from ocs.config import Config
from ocs.diameter.dictionary import Dictionary
from ocs.metrics import gy_charged_total, gy_requests_total, gy_sessions, gy_units_total
from ocs.services.gx import exhausted_hook
from ocs.services.gy_notify import GyNotifier, Send
from ocs.sms.gy_hook import SmsGyHook
from ocs.store.cdrs import CdrWriter
from ocs.store.guard import StoreGuard
from ocs.store.gy_redis import GyRedis
from ocs.store.redis_client import RedisStore

CDR_INTERVAL = 1.0  # seconds between passes of the CDR writer


class GuardedGyStore:
    """GyStore over GyRedis, every call bounded by the Redis timeout."""

    def __init__(self, redis: GyRedis, guard: StoreGuard) -> None:
        self.redis = redis
        self.guard = guard

    async def account_of(self, imsi: str | None, msisdn: str | None) -> str:
        return await self.guard.call(self.redis.account_of, imsi, msisdn)

    async def session_account(self, session_id: str) -> str | None:
        known = self.redis.known_account(session_id)
        if known is not None:  # a session this process served: no Redis call
            return known
        return await self.guard.call(self.redis.session_account, session_id)

    async def ccr(self, account: str, ccr: CreditControlRequest, peer: str, realm: str,
                  items: list[Item]) -> dict[str, Any]:
        return await self.guard.call(self.redis.ccr, account, ccr.session_id, ccr.request_type,
                                     ccr.request_number, peer, realm, [i.json() for i in items],
                                     int(time.time() * 1000), ccr.imsi, ccr.msisdn)

    async def event(self, account: str, ccr: CreditControlRequest, peer: str, action: int,
                    item: dict[str, Any]) -> dict[str, Any]:
        return await self.guard.call(self.redis.event, account, ccr.session_id, ccr.request_number, action, item,
                                     peer, ccr.imsi, ccr.msisdn, int(time.time() * 1000))


def gy_store(config: Config, redis: RedisStore) -> GyRedis:
    return GyRedis(redis, session_lifetime=config.gy.validity_time + config.gy.session_grace,
                   answer_ttl=config.gy.answer_ttl)


def gy_application(config: Config, backends: Backends) -> Gy:
    """Gy over the session store; tariffs from the daemon's charging service (loaded at start, reloaded by
    housekeeping)."""
    charging = backends.charging
    if charging is None:
        raise ValueError("gy needs the charging service: [redis] and [postgres] must be configured")
    guard = StoreGuard("redis", config.redis.timeout)  # one timer per slice of deadlines (ocs.store.guard)
    return Gy(config.node.origin_host, config.node.origin_realm, config.gy,
              GuardedGyStore(gy_store(config, backends.redis), guard), charging.tariff,
              home_plmns=config.auc.home_plmns,
              outcome=lambda kind, result: gy_requests_total.inc((kind, str(result))), usage=_usage,
              exhausted=exhausted_hook(backends.redis) if "gx" in config.diameter.applications else None,
              sms_event=SmsGyHook(backends.sms, charging).event if backends.sms is not None else None)


def _usage(unit: Unit, granted: int, used: int, charged: int) -> None:
    gy_units_total.inc((unit.value, "granted"), granted)
    gy_units_total.inc((unit.value, "used"), used)
    gy_charged_total.inc((unit.value,), charged)


Job = tuple[str, float, Callable[[], Awaitable[int]]]
Flush = tuple[str, Callable[[], Awaitable[int]]]


def gy_jobs(config: Config, backends: Backends) -> tuple[list[Job], list[Flush]]:
    """The housekeeping jobs of Gy when it is enabled: the reaper of silent sessions and the CDR writer; and
    what is flushed at stop (the CDRs still in Redis)."""
    if "gy" not in config.diameter.applications:
        return [], []
    store = gy_store(config, backends.redis)
    writer = CdrWriter(backends.redis, backends.pool, pg_timeout=config.postgres.timeout)

    async def reap() -> int:
        closed = await store.reap(int(time.time() * 1000))
        gy_sessions.set(await store.live_sessions())
        return closed

    return ([("gy-reap", config.charging.reap_interval, reap), ("gy-cdr", CDR_INTERVAL, writer.write_once)],
            [("gy-cdr", writer.drain)])


def gy_notifier(config: Config, backends: Backends, send: Send, dictionary: Dictionary) -> GyNotifier:
    """The consumer of RAR/ASR notifications from other processes (ocs.services.gy_notify)."""
    return GyNotifier(backends.redis, gy_store(config, backends.redis), send, dictionary, config.node.origin_host,
                      config.node.origin_realm, session_grace=config.gy.session_grace)


__all__ = ["GuardedGyStore", "gy_application", "gy_jobs", "gy_notifier", "gy_store"]
