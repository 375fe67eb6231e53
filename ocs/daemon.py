"""The daemon: builds the node, the listeners and the admin port from the config, runs until a signal."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import structlog
from fastapi import FastAPI

from ocs import __version__
from ocs.admin import api_accounts, api_sms, api_subscribers, api_tokens, events
from ocs.admin.auth import Authenticator
from ocs.admin.health import Health
from ocs.admin.idempotency import Idempotency
from ocs.admin.resources import admin_resources
from ocs.admin.server import AdminServer, build_app, start_admin
from ocs.admin.tokens import TokenStore
from ocs.apps.dispatch import DiameterApplication, Dispatch
from ocs.backends import Backends, open_backends
from ocs.config import Config, DiameterPeerConfig
from ocs.diameter.capabilities import LocalIdentity
from ocs.diameter.dictionary import Dictionary, default_dictionary_dir, load_dictionary
from ocs.diameter.node import Node, NodeSettings, PeerConfig
from ocs.diameter.peers import APPLICATION_IDS
from ocs.gctune import tune_gc
from ocs.metrics import worker_info
from ocs.payments.runtime import PaymentsRuntime, payments_enabled, payments_runtime
from ocs.services.charging import ChargingService
from ocs.services.forward import Forwarder
from ocs.services.gx import gx_application, gx_store
from ocs.services.gx_notify import GxNotifier, gx_notifier
from ocs.services.gy import gy_application, gy_jobs, gy_notifier
from ocs.services.gy_notify import GyNotifier
from ocs.services.hotspot import HotspotService
from ocs.services.housekeeping import Housekeeping
from ocs.services.hss import s6a_application
from ocs.services.lease import LeaseRunner, owner_id
from ocs.services.radius_runtime import RadiusRuntime
from ocs.services.subscribers import SubscriberService
from ocs.sms.runtime import SmsRuntime
from ocs.supervisor import drain_ledger, housekeeping_lease
from ocs.systemd import Notifier
from ocs.transport.diameter import DiameterServer
from ocs.transport.trace import Tracer

log = structlog.get_logger("ocs.daemon")


def split_hostport(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host.strip("[]"), int(port)


def peer_config(p: DiameterPeerConfig) -> PeerConfig:
    """A `[[diameter.peers]]` entry as the node takes it (application names to ids)."""
    return PeerConfig(p.origin_host, p.realm, split_hostport(p.connect) if p.connect else None, relay=p.relay,
                      applications=(frozenset(APPLICATION_IDS[name] for name in p.applications)
                                    if p.applications is not None else None))


# The applications by their name in `[diameter] applications`: one line each.
APPLICATIONS: dict[str, Callable[[Config, Backends], DiameterApplication]] = {
    "s6a": s6a_application,
    "gy": gy_application,
    "gx": gx_application,
}


def build_dispatch(config: Config, backends: Backends | None) -> Dispatch:
    """The dispatch table of the applications the config enables."""
    dispatch = Dispatch(config.node.origin_host, config.node.origin_realm)
    for name in config.diameter.applications:
        factory = APPLICATIONS.get(name)
        if factory is None or backends is None:
            raise ValueError(f"diameter.applications: {name!r} is not available in this version")
        dispatch.add(factory(config, backends))
    return dispatch


def load_dictionaries(config: Config) -> Dictionary:
    paths = [default_dictionary_dir()]
    if config.diameter.dictionaries:
        paths.append(config.diameter.dictionaries)  # type: ignore[arg-type]
    return load_dictionary(paths)


def admin_app(cfg: Config, backends: Backends | None, charging: ChargingService | None, health: Health,
              radius: RadiusRuntime | None = None, sms: SmsRuntime | None = None,
              payments: PaymentsRuntime | None = None) -> FastAPI:
    """The admin port's application: with the stores, tokens from PostgreSQL, the resources and the audit."""
    if backends is None or charging is None:
        return build_app(Authenticator(cfg.admin.token), (health.add_routes,))
    tokens = TokenStore(backends.pool)
    routes = [health.add_routes, api_tokens.routes(tokens),
              api_accounts.routes(charging, Idempotency(backends.redis), cfg.charging.currency),
              events.routes(backends.pool)]
    if sms is not None:
        routes.append(api_sms.routes(sms.service, cfg.charging.currency))
    if payments is not None:  # issue 17: hooks, /api/v1/payments, /portal/
        routes.extend(payments.routes())
    if not isinstance(backends.keys, Exception):  # subscribers need the key sealer
        subscribers = SubscriberService(backends.pool, backends.sealer, charging, currency=cfg.charging.currency,
                                        ind_bits=cfg.auc.ind_bits)
        routes.append(api_subscribers.routes(subscribers, HotspotService(backends.redis, backends.pool),
                                             cfg.radius.voucher_length, cfg.charging.currency))
    routes.extend(admin_resources(cfg, backends, charging, radius))
    return build_app(Authenticator(cfg.admin.token, tokens.lookup), tuple(routes), pool=backends.pool,
                     max_in_flight=cfg.admin.max_in_flight)


@dataclass
class Daemon:
    config: Config
    dispatch: Dispatch | None = None  # None: built from the config's applications at start
    notifier: Notifier = field(default_factory=Notifier)
    diameter: DiameterServer | None = None
    admin: AdminServer | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _watchdog_task: asyncio.Task[None] | None = None
    backends: Backends | None = None
    housekeeping: Housekeeping | None = None
    gy_notifier: GyNotifier | None = None
    gx_notifier: GxNotifier | None = None
    radius: RadiusRuntime | None = None
    charging: ChargingService | None = None  # the service the admin API shares with housekeeping
    sms: SmsRuntime | None = None  # SMS billing (issue 18): its service, and the Jasmin consumers when enabled
    payments: PaymentsRuntime | None = None  # mobile money and the captive portal (issue 17)
    worker: int = 0  # this process's number under `ocsd run --workers N` (ocs/supervisor.py); 0: alone
    lease: LeaseRunner | None = None  # housekeeping under a Redis lease (several workers or hosts)
    forwarder: Forwarder | None = None  # requests of ours through the process holding the peer

    async def start(self) -> None:
        cfg = self.config
        if self.dispatch is None:
            # The ledger writer and housekeeping run whenever Redis and PostgreSQL are configured, whatever
            # applications are enabled (money moved by the CLI must reach PostgreSQL all the same).
            if cfg.diameter.applications or cfg.stores_configured or cfg.radius.enabled:
                self.backends = await open_backends(cfg, keys=bool(cfg.diameter.applications))
                if cfg.radius.enabled:
                    self.radius = RadiusRuntime(cfg, self.backends)
                await self._start_housekeeping(self.backends)
            self.dispatch = build_dispatch(cfg, self.backends)
        node = Node(
            LocalIdentity(
                origin_host=cfg.node.origin_host,
                origin_realm=cfg.node.origin_realm,
                host_ip_addresses=tuple(cfg.node.host_ip_addresses),
                vendor_id=cfg.node.vendor_id,
                product_name=cfg.node.product_name,
                origin_state_id=int(time.time()),
                applications=self.dispatch.applications,
            ),
            [peer_config(p) for p in cfg.diameter.peers],
            load_dictionaries(cfg),
            self.dispatch.commands,
            NodeSettings(watchdog_interval=cfg.diameter.watchdog_interval,
                         in_flight_limit=cfg.diameter.in_flight_limit,
                         request_timeout=cfg.diameter.request_timeout,
                         max_connections=cfg.diameter.max_connections,
                         max_pending_connections=cfg.diameter.max_pending_connections,
                         max_cer_size=cfg.diameter.max_cer_size),
        )
        self.diameter = DiameterServer(node, self.dispatch, write_buffer_high=cfg.diameter.write_buffer_high,
                                       write_buffer_low=cfg.diameter.write_buffer_low,
                                       notice_interval=cfg.log.rate_limit_interval)
        if cfg.log.trace:
            self.diameter.trace = Tracer(node.dictionary, avps=cfg.log.level == "debug")
        reuse_port = self.worker > 0  # workers share the ports (SO_REUSEPORT: the kernel spreads connections)
        for address in cfg.diameter.listen:
            host, port = split_hostport(address)
            server = await self.diameter.listen(host, port, reuse_port=reuse_port)
            for sock in server.sockets:
                log.info("listening", protocol="diameter", address=str(sock.getsockname()))
        if self.radius is not None:
            await self.radius.start()
        admin_host, admin_port = split_hostport(cfg.admin.listen)
        health = Health(self.diameter, self.backends, cfg.redis.timeout, cfg.postgres.timeout,
                        cfg.admin.ledger_lag_limit, tuple(cfg.diameter.listen))
        app = admin_app(cfg, self.backends, self.charging, health, self.radius, self.sms, self.payments)
        self.admin = await start_admin(admin_host, admin_port, app, reuse_port=reuse_port)
        if self.sms is not None:
            self.sms.start()
        self.diameter.start()
        if "gy" in cfg.diameter.applications and self.backends is not None:
            self.gy_notifier = gy_notifier(cfg, self.backends, self.diameter.request, node.dictionary)
            self.gy_notifier.start()
        if "gx" in cfg.diameter.applications and self.backends is not None:
            self.gx_notifier = gx_notifier(self.backends.redis, gx_store(cfg, self.backends.redis),
                                           self.backends.pool, self.diameter.request, node.dictionary,
                                           cfg.node.origin_host, cfg.node.origin_realm, cfg.gx.default_plan)
            self.gx_notifier.start()
        if self.backends is not None:  # our requests to a peer held by another process (after the notifiers)
            self.forwarder = Forwarder(self.backends.redis, owner_id(self.worker), self.diameter.request,
                                       cfg.diameter.request_timeout)
            self.diameter.on_peer = self.forwarder.peer_changed
            self.diameter.request = self.forwarder.send  # type: ignore[method-assign]
            self.forwarder.start()
        worker_info.set(self.worker)
        self.notifier.ready()
        if self.notifier.watchdog_interval:
            self._watchdog_task = asyncio.create_task(self._ping(self.notifier.watchdog_interval))
        log.info("started", version=__version__, origin_host=cfg.node.origin_host, worker=self.worker, pid=os.getpid(),
                 applications=sorted({r.app_name for r in self.dispatch}))

    async def _start_housekeeping(self, backends: Backends) -> None:
        """The ledger writer, the reservation reaper and bundle expiry (ocs.services.housekeeping)."""
        charging = ChargingService(backends.redis, backends.pool)
        await charging.load()
        backends.charging = charging
        self.charging = charging
        c = self.config.charging
        jobs, flushes = gy_jobs(self.config, backends)
        if self.radius is not None:
            jobs = [*jobs, *self.radius.jobs()]
        self.sms = SmsRuntime(self.config, backends)
        await self.sms.load()
        backends.sms = self.sms.service
        jobs, flushes = [*jobs, *self.sms.jobs()], [*flushes, *self.sms.flushes()]
        if payments_enabled(self.config):
            self.payments = payments_runtime(self.config, backends, charging)
            self.payments.start()
            jobs = [*jobs, *self.payments.jobs()]

        def housekeeping() -> Housekeeping:
            return Housekeeping(charging, c.reap_interval, c.reservation_max_age, c.expire_interval, jobs=jobs,
                                flushes=flushes)

        lease = self.config.daemon.housekeeping_lease
        if lease or (lease is None and (self.worker > 0 or self.config.daemon.workers > 1)):
            self.lease = housekeeping_lease(self, backends, housekeeping)  # ocs/supervisor.py
            self.lease.start()
        else:
            self.housekeeping = housekeeping()
            self.housekeeping.start()

    async def _ping(self, interval: float) -> None:
        while True:
            self.notifier.watchdog()
            await asyncio.sleep(interval)

    def request_stop(self) -> None:
        self._stop.set()

    async def stop(self) -> None:
        self.notifier.stopping()
        log.info("stopping")
        if self.gy_notifier is not None:
            await self.gy_notifier.stop()
        if self.gx_notifier is not None:
            await self.gx_notifier.stop()
        if self.diameter is not None:
            await self.diameter.stop()
        if self.sms is not None:
            await self.sms.stop()  # finishes the Jasmin events in flight
        if self.forwarder is not None:
            await self.forwarder.stop()
        if self.radius is not None:
            await self.radius.stop()
        if self.admin is not None:
            self.admin.close()
            await self.admin.wait_closed()
        if self._watchdog_task is not None:
            self._watchdog_task.cancel()
        if self.payments is not None:
            await self.payments.stop()  # finishes queued notices; what is left waits in PostgreSQL for reconcile
        if self.lease is not None:
            await self.lease.stop()  # stops the holder's housekeeping (flushing the ledger)
            await drain_ledger(self.backends)  # what this worker wrote after: several writers are safe
        if self.housekeeping is not None:
            await self.housekeeping.stop()  # flushes the ledger to PostgreSQL
        if self.backends is not None:
            await self.backends.close()
        log.info("stopped")

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        await self.start()
        tune_gc()  # once up: the start-up heap frozen, fewer collections (ocs/gctune.py)
        await self._stop.wait()
        await self.stop()


def run_daemon(config: Config, *, worker: int = 0, notifier: Notifier | None = None) -> int:
    """Run until a signal; the exit status: 0 after a clean stop, 2 when the keys are missing, 1 when a listener,
    Redis or PostgreSQL could not be opened (logged as `start-failed`). With `[daemon] workers` above 1 (and no
    `worker` given) a supervisor runs that many worker processes instead (ocs/supervisor.py)."""
    if worker == 0 and config.daemon.workers > 1:
        from ocs.supervisor import run_workers

        return run_workers(config)
    import asyncpg
    import redis.exceptions
    import uvloop

    from ocs.sealing import SealingError

    try:
        daemon = Daemon(config, worker=worker)
        if notifier is not None:
            daemon.notifier = notifier
        uvloop.run(daemon.run())
    except SealingError as e:
        log.error("start-failed", error=str(e))
        return 2
    except (OSError, redis.exceptions.RedisError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
        log.error("start-failed", error=str(e), error_type=type(e).__name__)
        return 1
    return 0
