"""The admin port's share of the event loop (issue 16 point 7: API load must not slow Diameter answers by more
than 10%). The daemon is one process and one loop: every admin request that is being worked on competes with
the Diameter, RADIUS and housekeeping callbacks for the same CPU. `InFlightLimit` lets at most `limit` API
requests be worked on at once; the others wait for a turn (in arrival order, none refused), so a flood of API
requests holds a bounded number of the loop's ready callbacks while Diameter, with its own in-flight limit per
connection, keeps the rest. Health, metrics and the event stream (a long-lived response) are not counted.
"""

from __future__ import annotations

import asyncio

from starlette.types import ASGIApp, Receive, Scope, Send

UNCOUNTED = ("/healthz", "/readyz", "/metrics", "/api/v1/events")


class InFlightLimit:
    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.slots = asyncio.Semaphore(limit)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in UNCOUNTED:
            await self.app(scope, receive, send)
            return
        async with self.slots:
            await self.app(scope, receive, send)


__all__ = ["InFlightLimit"]
