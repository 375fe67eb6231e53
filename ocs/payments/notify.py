"""Notifications to the customer or the operator's systems (issue 17 point 5): a payment applied, a package or a
bundle about to expire. `Notifier` is the interface; `WebhookNotifier` (a JSON POST to `[notify] webhook_url`)
is the first implementation, an SMS notifier (the project's SMS path) the next one. A notification that cannot
be delivered is logged and counted, never retried into a storm, and never blocks the money.
"""

from __future__ import annotations

from typing import Any, Protocol

import httpx
import structlog

from ocs.metrics import notifications_total

log = structlog.get_logger("ocs.payments.notify")


class Notifier(Protocol):
    async def notify(self, kind: str, payload: dict[str, Any]) -> bool:
        """Send one notification (`kind`: payment.applied, package.expiring, bundle.expiring); True if sent."""
        ...

    async def close(self) -> None: ...


class NullNotifier:
    async def notify(self, kind: str, payload: dict[str, Any]) -> bool:
        return False

    async def close(self) -> None:
        return None


class WebhookNotifier:
    """POST {"event": kind, ...payload} as JSON to the configured URL; a 2xx answer is success."""

    def __init__(self, url: str, timeout: float, *, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.url = url
        self._http = httpx.AsyncClient(timeout=timeout, transport=transport)

    async def notify(self, kind: str, payload: dict[str, Any]) -> bool:
        try:
            r = await self._http.post(self.url, json={"event": kind, **payload})
            ok = 200 <= r.status_code < 300
        except httpx.HTTPError as e:
            log.warning("notify-failed", kind=kind, error_type=type(e).__name__)
            ok = False
        else:
            if not ok:
                log.warning("notify-refused", kind=kind, status=r.status_code)
        notifications_total.inc((kind, "sent" if ok else "failed"))
        return ok

    async def close(self) -> None:
        await self._http.aclose()


__all__ = ["Notifier", "NullNotifier", "WebhookNotifier"]
