"""/portal/: the captive portal's pages and its small public API (no token; rate-limited per client IP).

Mikrotik's hotspot login page (RouterOS "HotSpot customisation": login.html variables $(mac), $(ip),
$(link-login-only), $(link-orig), $(dst), $(chap-id), $(chap-challenge), $(error)) links or redirects here
with those values in the query string: /portal/?mac=$(mac)&link-login-only=$(link-login-only)&dst=$(link-orig-esc)
&chap-id=$(chap-id)&chap-challenge=$(chap-challenge). The page lists the hotspot packages, sends an STK push for
the chosen one (bound to that MAC), follows the payment live (SSE from /portal/api/payments/{id}/events, fed by
the payment service's watchers), and once the voucher exists posts username = password = voucher to
link-login-only (CHAP-hashed when the router gave chap-id). A customer with a voucher posts it directly.

The theme is one CSS file and a logo (`[portal] css`, `logo`), the title `[portal] title`.
"""

from __future__ import annotations

import asyncio
import html
import json
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import FileResponse, HTMLResponse, Response, StreamingResponse
from pydantic import BaseModel, Field

from ocs.admin.problems import ApiError
from ocs.charging.currencies import format_major
from ocs.config.payments import PortalConfig
from ocs.metrics import portal_requests_total
from ocs.payments import mpesa
from ocs.payments.service import PaymentRefused, PaymentService, Purchase
from ocs.payments.store import FINAL, Payment
from ocs.services.hotspot import HotspotService

STATIC = Path(__file__).parent / "static"
HEARTBEAT = 15.0
STREAM_LIMIT = 600.0  # seconds an event stream stays open (the STK prompt times out long before)
RouteAdder = Callable[[FastAPI], None]


class RateLimiter:
    """A token bucket per client IP: `per_minute` requests, refilled continuously."""

    def __init__(self, per_minute: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate, self.burst, self.clock = per_minute / 60.0, float(per_minute), clock
        self._buckets: dict[str, tuple[float, float]] = {}

    def allow(self, key: str) -> bool:
        now = self.clock()
        tokens, at = self._buckets.get(key, (self.burst, now))
        tokens = min(self.burst, tokens + (now - at) * self.rate)
        if len(self._buckets) > 100_000:  # a flood of addresses: forget the idle ones
            self._buckets = {k: v for k, v in self._buckets.items() if now - v[1] < 60}
        if tokens < 1:
            self._buckets[key] = (tokens, now)
            return False
        self._buckets[key] = (tokens - 1, now)
        return True


class PayIn(BaseModel):
    phone: str = Field(min_length=9, max_length=20)
    package: str = Field(min_length=1, max_length=32)
    mac: str = Field(min_length=12, max_length=32)


def status_json(p: Payment) -> dict[str, Any]:
    if p.status == "applied":
        message = "Paid. Logging you in..."
    elif p.status in ("pending", "confirmed"):
        message = "Check your phone and enter your M-Pesa PIN."
    elif p.status == "mismatch":
        message = "The payment could not be matched. Please contact us with your M-Pesa message."
    else:
        message = mpesa.customer_message(p.result_code, p.result_desc)
    return {"id": p.id, "status": p.status, "final": p.status in FINAL, "message": message,
            "voucher": p.voucher if p.status == "applied" else None}


def _sse(p: Payment) -> bytes:
    return f"event: status\ndata: {json.dumps(status_json(p), separators=(',', ':'))}\n\n".encode()


def routes(config: PortalConfig, payments: PaymentService | None, hotspot: HotspotService, currency: str) -> RouteAdder:
    limiter = RateLimiter(config.rate_limit)

    def limited(name: str) -> Callable[[Request], None]:
        def check(request: Request) -> None:
            ip = request.client.host if request.client else "-"
            if not limiter.allow(ip):
                portal_requests_total.inc((name, "rate-limited"))
                raise ApiError(429, "too_many_requests", "too many requests; wait a minute")
            portal_requests_total.inc((name, "ok"))
        return check

    page = (STATIC / "index.html").read_text().replace("{{title}}", html.escape(config.title))

    def add(app: FastAPI) -> None:
        @app.get("/portal/", include_in_schema=False, dependencies=[Depends(limited("page"))])
        async def index() -> HTMLResponse:
            return HTMLResponse(page, headers={"Cache-Control": "no-store"})

        @app.get("/portal/portal.js", include_in_schema=False)
        async def script() -> FileResponse:
            return FileResponse(STATIC / "portal.js", media_type="text/javascript")

        @app.get("/portal/theme.css", include_in_schema=False)
        async def theme() -> FileResponse:
            return FileResponse(config.css or STATIC / "portal.css", media_type="text/css")

        @app.get("/portal/logo", include_in_schema=False)
        async def logo() -> Response:
            if config.logo:
                return FileResponse(config.logo)
            return FileResponse(STATIC / "logo.svg", media_type="image/svg+xml")

        @app.get("/portal/api/packages", include_in_schema=False, dependencies=[Depends(limited("packages"))])
        async def packages() -> dict[str, Any]:
            items = [{"code": p.code, "name": p.name, "price": p.price,
                      "price_text": f"{config.currency_label or currency} {format_major(p.price, currency)}",
                      "time_seconds": p.time_seconds, "data_octets": p.data_octets,
                      "validity_hours": p.validity_hours} for p in await hotspot.packages() if p.price > 0]
            return {"title": config.title, "currency": currency, "packages": items,
                    "router_hosts": list(config.router_hosts),
                    "mpesa": payments is not None and payments.daraja is not None}

        @app.post("/portal/api/pay", include_in_schema=False, status_code=202,
                  dependencies=[Depends(limited("pay"))])
        async def pay(body: PayIn) -> dict[str, Any]:
            if payments is None:
                raise ApiError(503, "unavailable", "payments are not available")
            try:
                p = await payments.stk_push(phone=body.phone, purchase=Purchase("hotspot", body.package),
                                            mac=body.mac, created_by="portal")
            except PaymentRefused as e:
                raise ApiError(e.status, "refused", str(e)) from None
            return status_json(p)

        async def _payment(payment_id: str) -> Payment:
            p = await payments.store.get(payment_id) if payments is not None and len(payment_id) < 80 else None
            if p is None or p.created_by != "portal":
                raise ApiError(404, "not_found", "no such payment")
            return p

        @app.get("/portal/api/payments/{payment_id}", include_in_schema=False,
                 dependencies=[Depends(limited("status"))])
        async def status(payment_id: str) -> dict[str, Any]:
            return status_json(await _payment(payment_id))

        @app.get("/portal/api/payments/{payment_id}/events", include_in_schema=False,
                 dependencies=[Depends(limited("events"))])
        async def events(payment_id: str, request: Request) -> StreamingResponse:
            """The payment's status as Server-Sent Events (WHATWG HTML §9.2): one `status` event now and at every
            change, until a final state."""
            first = await _payment(payment_id)
            assert payments is not None

            async def stream() -> AsyncIterator[bytes]:
                async with payments.watch(payment_id) as changes:
                    p = await payments.store.get(payment_id) or first  # after subscribing: no change lost
                    yield b"retry: 2000\n\n" + _sse(p)
                    deadline = time.monotonic() + STREAM_LIMIT
                    while p.status not in FINAL and time.monotonic() < deadline:
                        if await request.is_disconnected():
                            return
                        try:
                            p = await asyncio.wait_for(changes.get(), HEARTBEAT)
                        except TimeoutError:
                            yield b": keep-alive\n\n"
                            continue
                        yield _sse(p)

            return StreamingResponse(stream(), media_type="text/event-stream",
                                     headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})

    return add


__all__ = ["RateLimiter", "routes", "status_json"]
