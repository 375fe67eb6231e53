"""The RADIUS side of the daemon: listeners, the hotspot application, enforcement and its background jobs.

Built from `[radius]` when `enabled = true`: one RadiusServer (ocs.transport.radius) listening on the auth
and accounting addresses, the dispatch of `ocs.apps.radius.HotspotRadius`, and housekeeping jobs that write
closed sessions to PostgreSQL and reap sessions whose time ran out between interims.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

import structlog

from ocs.apps.dispatch import RadiusDispatch, RadiusRoute
from ocs.apps.radius import HotspotRadius
from ocs.backends import Backends
from ocs.config import Config
from ocs.config.table import split_hostport
from ocs.services.hotspot import HotspotService
from ocs.services.hotspot_enforce import Enforcer
from ocs.store.guard import StoreGuard
from ocs.transport.radius import DynAuthClient, RadiusServer
from radius.clients import ClientTable, RadiusClient
from radius.dictionary import load_dictionary

log = structlog.get_logger("ocs.radius")


def client_table(config: Config) -> ClientTable:
    return ClientTable(RadiusClient(c.address, c.name, c.secret.encode(), c.coa_port, c.message_authenticator)
                       for c in config.radius.clients)


def _report(event: str, route: RadiusRoute, error: BaseException) -> None:
    if event == "handler-failed":
        log.error("radius-handler-failed", command=route.command_name, error_type=type(error).__name__,
                  error=str(error))


@dataclass
class RadiusRuntime:
    config: Config
    backends: Backends
    service: HotspotService = field(init=False)
    server: RadiusServer | None = None
    _tasks: set[asyncio.Task[None]] = field(default_factory=set)

    enforcer: Enforcer = field(init=False)

    def __post_init__(self) -> None:
        r = self.config.radius
        self.service = HotspotService(self.backends.redis, self.backends.pool,
                                      StoreGuard("redis", self.config.redis.timeout))
        self.dynauth = DynAuthClient(load_dictionary(), r.coa_timeout, r.coa_retries)
        self.stale_after = 3 * r.interim_interval + 60  # three interims missed: the router lost the session
        self.enforcer = Enforcer(self.service, self.backends.pool, client_table(self.config), self.dynauth,
                                 r.on_exhausted, r.throttle_rate_limit, self.stale_after)

    def jobs(self) -> list[tuple[str, float, Callable[[], Awaitable[int]]]]:
        """Housekeeping jobs: (name, interval, job)."""
        interval = self.config.radius.reap_interval
        return [("hotspot-sessions", interval, self.service.write_closed_sessions),
                ("hotspot-reaper", interval, self.enforcer.reap)]

    def spawn(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await work
            except Exception as e:  # a background step failed: logged, never lost silently
                log.error("radius-background-failed", error_type=type(e).__name__, error=str(e))
        task = asyncio.get_running_loop().create_task(run())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def on_exhausted(self, account: str) -> None:
        """An account's time or data is used up (or its validity ended): enforcement (point 5)."""
        self.spawn(self._enforce(account))

    async def _enforce(self, account: str) -> None:
        await self.enforcer.enforce(account, "exhausted")

    async def start(self) -> None:
        r = self.config.radius
        app = HotspotRadius(self.service, r.interim_interval, time.time, self.on_exhausted, self.stale_after)
        dispatch = RadiusDispatch(report=_report)
        for code, handler in app.routes():
            dispatch.register(code, handler)
        await self.dynauth.start()
        self.server = RadiusServer(client_table(self.config), load_dictionary(), dispatch, r.duplicate_window)
        for address in (r.auth_listen, r.acct_listen):
            host, port = split_hostport(address)
            transport = await self.server.listen(host, port, reuse_port=self.config.daemon.workers > 1)
            log.info("listening", protocol="radius", address=str(transport.get_extra_info("sockname")))

    async def stop(self) -> None:
        if self.server is not None:
            await self.server.stop()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5.0)
        self.dynauth.close()


__all__ = ["RadiusRuntime", "client_table"]
