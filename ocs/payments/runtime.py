"""Mobile money inside the daemon: the payment service with its worker, the housekeeping jobs (reconcile,
expiry notices) and the admin-port routes (hooks, /api/v1/payments, /portal/). Built by the daemon when
`[payments.mpesa]`, a `[[payments.webhooks]]` provider or `[portal] enabled` is configured."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from fastapi import FastAPI

from ocs.admin import api_payments
from ocs.admin.idempotency import Idempotency
from ocs.backends import Backends
from ocs.config import Config
from ocs.payments.daraja import DarajaClient
from ocs.payments.expiry import ExpiryNotices
from ocs.payments.notify import Notifier, NullNotifier, WebhookNotifier
from ocs.payments.service import PaymentService
from ocs.payments.store import PaymentStore
from ocs.portal import routes as portal_routes
from ocs.services.charging import ChargingService
from ocs.services.hotspot import HotspotService

Job = tuple[str, float, Callable[[], Awaitable[int]]]


def payments_enabled(cfg: Config) -> bool:
    return cfg.payments.mpesa is not None or bool(cfg.payments.webhooks) or cfg.portal.enabled


def make_notifier(cfg: Config) -> Notifier:
    """The configured notifier: the webhook for now; the SMS path plugs in here once it exists."""
    if cfg.notify.webhook_url:
        return WebhookNotifier(cfg.notify.webhook_url, cfg.notify.timeout)
    return NullNotifier()


@dataclass
class PaymentsRuntime:
    config: Config
    service: PaymentService
    hotspot: HotspotService
    expiry: ExpiryNotices
    idempotency: Idempotency

    def start(self) -> None:
        self.service.start()

    async def stop(self) -> None:
        await self.service.stop()

    def jobs(self) -> list[Job]:
        jobs: list[Job] = [("payments-reconcile", self.config.payments.reconcile_interval, self.service.reconcile)]
        if self.config.notify.webhook_url:
            jobs.append(("expiry-notices", self.config.notify.interval, self.expiry.run_once))
        return jobs

    def routes(self) -> list[Callable[[FastAPI], None]]:
        cfg = self.config
        mpesa = cfg.payments.mpesa
        adders = [api_payments.routes(self.service, mpesa.path_token if mpesa else None,
                                      {p.name: p for p in cfg.payments.webhooks}, self.idempotency)]
        if cfg.portal.enabled:
            adders.append(portal_routes.routes(cfg.portal, self.service, self.hotspot, cfg.charging.currency))
        return adders


def payments_runtime(cfg: Config, backends: Backends, charging: ChargingService) -> PaymentsRuntime:
    hotspot = HotspotService(backends.redis, backends.pool)
    notifier = make_notifier(cfg)
    daraja = DarajaClient(cfg.payments.mpesa) if cfg.payments.mpesa is not None else None
    service = PaymentService(PaymentStore(backends.pool), charging, hotspot, cfg.payments,
                             currency=cfg.charging.currency, voucher_length=cfg.radius.voucher_length,
                             daraja=daraja, notifier=notifier)
    expiry = ExpiryNotices(backends.pool, charging, hotspot, notifier, cfg.notify.expiry_notice_hours)
    return PaymentsRuntime(cfg, service, hotspot, expiry, Idempotency(backends.redis))


__all__ = ["PaymentsRuntime", "make_notifier", "payments_enabled", "payments_runtime"]
