"""The HSS (S6a, TS 29.272) assembled from the config and the backends: the AuC service and the PostgreSQL
registrations behind store guards (a store down or hung: a transient answer within the timeout)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any

import structlog

from ocs.apps.s6a import Auc, Identity, Registrations, S6a, VectorsLike
from ocs.backends import Backends
from ocs.config import Config
from ocs.metrics import auc_vector_seconds, s6a_requests_total
from ocs.services.auc import AucService
from ocs.store.guard import StoreGuard
from ocs.store.registrations import PgRegistrations
from ocs.subscribers.profiles import SubscriberProfile

log = structlog.get_logger("ocs.s6a")


class GuardedAuc:
    """The AuC with every call bounded: Redis first, PostgreSQL when the SEQ block runs out (both timeouts)."""

    def __init__(self, auc: Auc, guard: StoreGuard) -> None:
        self.auc = auc
        self.guard = guard

    def vectors(self, imsi: str, serving_network: bytes, eutran: int = 1, utran: int = 0, geran: int = 0,
                resync_info: bytes | None = None) -> Awaitable[VectorsLike]:
        # the guard's coroutine itself, not one awaiting it: one coroutine frame less per AIR (issue 15)
        return self.guard.call(self.auc.vectors, imsi, serving_network, eutran, utran, geran, resync_info)


class GuardedRegistrations:
    def __init__(self, registrations: Registrations, guard: StoreGuard) -> None:
        self.registrations = registrations
        self.guard = guard

    async def profile(self, imsi: str) -> SubscriberProfile | None:
        return await self.guard.call(self.registrations.profile, imsi)

    async def register(self, imsi: str, mme_host: str, mme_realm: str) -> tuple[str, str] | None:
        return await self.guard.call(self.registrations.register, imsi, mme_host, mme_realm)

    async def purge(self, imsi: str, mme_host: str) -> bool | None:
        return await self.guard.call(self.registrations.purge, imsi, mme_host)


_background: set[asyncio.Task[None]] = set()


def _spawn(work: Awaitable[None]) -> None:
    """Run an application's background request (a CLR) as a task kept until it ends."""
    async def run() -> None:
        await work

    task = asyncio.get_running_loop().create_task(run())
    _background.add(task)
    task.add_done_callback(_background.discard)


def _log(event: str, **fields: Any) -> None:
    log.info(event, **fields)


def s6a_application(config: Config, backends: Backends) -> S6a:
    """The HSS over the AuC service and the PostgreSQL registrations."""
    auc = AucService(backends.redis, backends.pool, backends.sealer, ind_bits=config.auc.ind_bits,
                     seq_block=config.auc.seq_block)
    auc_guard = StoreGuard("redis", config.redis.timeout + config.postgres.timeout)
    pg_guard = StoreGuard("postgres", config.postgres.timeout)
    return S6a(Identity(config.node.origin_host, config.node.origin_realm), GuardedAuc(auc, auc_guard),
               GuardedRegistrations(PgRegistrations(backends.pool), pg_guard),
               allowed_plmns=frozenset(config.auc.home_plmns) | frozenset(config.auc.roaming_plmns),
               max_vectors=config.auc.max_vectors, spawn=_spawn, log=_log,
               outcome=lambda command, result: s6a_requests_total.inc((command, result)),
               vector_latency=lambda seconds: auc_vector_seconds.observe((), seconds))


__all__ = ["GuardedAuc", "GuardedRegistrations", "s6a_application"]
