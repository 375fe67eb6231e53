"""The admin resources of issue 16's second part, in one list for ocs.daemon.admin_app: the catalog
(bundles, tariffs, hotspot packages, plans), gifts, the ledger and CDRs, and the live sessions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ocs.admin import api_account_status, api_catalog, api_records, api_sessions
from ocs.admin.idempotency import Idempotency
from ocs.admin.server import RouteAdder
from ocs.config import Config
from ocs.services.charging import ChargingService
from ocs.services.hotspot import HotspotService
from ocs.services.sessions import Sessions

if TYPE_CHECKING:
    from ocs.backends import Backends
    from ocs.services.radius_runtime import RadiusRuntime


def admin_resources(cfg: Config, backends: Backends, charging: ChargingService,
                    radius: RadiusRuntime | None) -> list[RouteAdder]:
    hotspot = radius.service if radius is not None else HotspotService(backends.redis, backends.pool)
    sessions = Sessions(cfg, charging, hotspot, radius.enforcer if radius is not None else None,
                        gy_enabled="gy" in cfg.diameter.applications)
    return [api_catalog.routes(charging, hotspot, cfg.charging.currency),
            api_records.routes(charging, Idempotency(backends.redis)),
            api_sessions.routes(sessions), api_account_status.routes(backends.pool, charging.store)]


__all__ = ["admin_resources"]
