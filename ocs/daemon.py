"""The daemon: builds the node, the listeners and the admin port from the config, runs until a signal."""

from __future__ import annotations

import asyncio
import signal
import time
from dataclasses import dataclass, field

import structlog

from ocs import __version__
from ocs.admin.server import start_admin
from ocs.apps.registry import Registry
from ocs.config import Config
from ocs.diameter.capabilities import LocalIdentity
from ocs.diameter.dictionary import Dictionary, default_dictionary_dir, load_dictionary
from ocs.diameter.node import Node, NodeSettings, PeerConfig
from ocs.systemd import Notifier
from ocs.transport.diameter import DiameterServer

log = structlog.get_logger("ocs.daemon")


def split_hostport(value: str) -> tuple[str, int]:
    host, _, port = value.rpartition(":")
    return host.strip("[]"), int(port)


def build_registry(config: Config) -> Registry:
    """Handlers of the applications the config enables (Gy, Gx, S6a arrive with their issues)."""
    registry = Registry()
    for name in config.diameter.applications:
        raise ValueError(f"diameter.applications: {name!r} is not available in this version")
    return registry


def load_dictionaries(config: Config) -> Dictionary:
    paths = [default_dictionary_dir()]
    if config.diameter.dictionaries:
        paths.append(config.diameter.dictionaries)  # type: ignore[arg-type]
    return load_dictionary(paths)


@dataclass
class Daemon:
    config: Config
    registry: Registry = field(default_factory=Registry)
    notifier: Notifier = field(default_factory=Notifier)
    diameter: DiameterServer | None = None
    admin: asyncio.Server | None = None
    _stop: asyncio.Event = field(default_factory=asyncio.Event)
    _watchdog_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        cfg = self.config
        node = Node(
            LocalIdentity(
                origin_host=cfg.node.origin_host,
                origin_realm=cfg.node.origin_realm,
                host_ip_addresses=tuple(cfg.node.host_ip_addresses),
                vendor_id=cfg.node.vendor_id,
                product_name=cfg.node.product_name,
                origin_state_id=int(time.time()),
                applications=self.registry.applications,
            ),
            [PeerConfig(p.origin_host, p.realm, split_hostport(p.connect) if p.connect else None)
             for p in cfg.diameter.peers],
            load_dictionaries(cfg),
            self.registry.commands,
            NodeSettings(watchdog_interval=cfg.diameter.watchdog_interval,
                         in_flight_limit=cfg.diameter.in_flight_limit,
                         request_timeout=cfg.diameter.request_timeout),
        )
        self.diameter = DiameterServer(node, self.registry)
        for address in cfg.diameter.listen:
            host, port = split_hostport(address)
            server = await self.diameter.listen(host, port)
            for sock in server.sockets:
                log.info("listening", protocol="diameter", address=str(sock.getsockname()))
        admin_host, admin_port = split_hostport(cfg.admin.listen)
        self.admin = await start_admin(admin_host, admin_port, cfg.admin.token)
        self.diameter.start()
        self.notifier.ready()
        if self.notifier.watchdog_interval:
            self._watchdog_task = asyncio.create_task(self._ping(self.notifier.watchdog_interval))
        log.info("started", version=__version__, origin_host=cfg.node.origin_host,
                 applications=[r.app_name for r in self.registry])

    async def _ping(self, interval: float) -> None:
        while True:
            self.notifier.watchdog()
            await asyncio.sleep(interval)

    def request_stop(self) -> None:
        self._stop.set()

    async def stop(self) -> None:
        self.notifier.stopping()
        log.info("stopping")
        if self.diameter is not None:
            await self.diameter.stop()
        if self.admin is not None:
            self.admin.close()
            await self.admin.wait_closed()
        if self._watchdog_task is not None:
            self._watchdog_task.cancel()
        log.info("stopped")

    async def run(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.request_stop)
        await self.start()
        await self._stop.wait()
        await self.stop()


def run_daemon(config: Config) -> None:
    import uvloop

    registry = build_registry(config)
    uvloop.run(Daemon(config, registry).run())
