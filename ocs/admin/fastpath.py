"""The fast path of the money POSTs (issue 16 point 7: top-ups/s through the API).

`POST /api/v1/accounts/{account}/topup|adjust|refund` is what billing portals and payment integrations send
most. FastAPI's generic request handling (routing over every route, dependency solving, parameter collection)
cost more than the operation itself, so this ASGI middleware serves the ordinary case of these three routes
directly: it matches the path, checks the bearer token's role, validates the body with the route's own
pydantic model (in Rust, from the JSON bytes) and calls the same `money_text` as the FastAPI route. The answer
is the same bytes the route would send.

Anything else goes to the FastAPI route with the body replayed: a wrong or missing token, a body or header the
model refuses, and every error of the operation (unknown account, insufficient funds, a reused Idempotency-Key,
a lost store). That is safe because a money operation always carries a reference (the body's `ref` or the
Idempotency-Key) and the service is idempotent by it: if the fast attempt got as far as moving the money, the
route's attempt finds the reference and moves nothing. So errors keep one source (the route and
ocs.admin.problems), and the OpenAPI document keeps describing these routes.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi.routing import APIRoute
from pydantic import BaseModel
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ocs.admin.api_accounts import CorrectionIn, MoneyIn, money_text
from ocs.admin.auth import PERMISSIONS, Authenticator
from ocs.admin.idempotency import MAX_KEY, Idempotency
from ocs.services.charging import ChargingService

PATH = re.compile(r"^/api/v1/accounts/([A-Za-z0-9][A-Za-z0-9_.-]{0,63})/(topup|adjust|refund)$")
MAX_BODY = 16_384  # larger bodies take the ordinary path (which applies the application's own limit)
MODELS: dict[str, type[MoneyIn] | type[CorrectionIn]] = {"topup": MoneyIn, "adjust": CorrectionIn,
                                                         "refund": CorrectionIn}
JSON_HEADERS = [(b"content-type", b"application/json")]


class _Ordinary(Exception):
    """Not the fast path's case: the FastAPI route answers."""


def _replay(body: bytes) -> Receive:
    sent = False

    async def receive() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return {"type": "http.disconnect"}

    return receive


class MoneyFastPath:
    def __init__(self, app: ASGIApp, charging: ChargingService, idem: Idempotency) -> None:
        self.app = app
        self.charging = charging
        self.idem = idem
        self._routes: dict[str, APIRoute] = {}

    def _route(self, scope: Scope, kind: str) -> APIRoute | None:
        """The FastAPI route of `kind` (the label of ocsd_admin_requests_total and what the audit sees)."""
        if not self._routes:
            for r in scope["app"].routes:
                if isinstance(r, APIRoute) and r.path.startswith("/api/v1/accounts/{account}/"):
                    self._routes[r.path.rpartition("/")[2]] = r
        return self._routes.get(kind)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        match = PATH.match(scope["path"])
        if match is None:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            chunks.append(chunk)
            size += len(chunk)
            if not message.get("more_body", False) or size > MAX_BODY:
                break
        body = b"".join(chunks)
        if size > MAX_BODY:
            await self.app(scope, _continue(body, receive), send)
            return
        try:
            text, who = await self._serve(scope, match.group(1), match.group(2), body)
        except Exception:  # noqa: BLE001 - every refusal is the route's to answer (see the module's note)
            await self.app(scope, _replay(body), send)
            return
        scope.setdefault("state", {})["principal"] = who
        route = self._route(scope, match.group(2))
        if route is not None:
            scope["route"] = route
        payload = text.encode()
        await send({"type": "http.response.start", "status": 200,
                    "headers": [*JSON_HEADERS, (b"content-length", str(len(payload)).encode())]})
        await send({"type": "http.response.body", "body": payload})

    async def _serve(self, scope: Scope, account: str, kind: str, body: bytes) -> tuple[str, Any]:
        authorization = key = content_type = None
        for name, value in scope["headers"]:
            if name == b"authorization":
                authorization = value.decode("latin-1")
            elif name == b"idempotency-key":
                if key is not None:
                    raise _Ordinary
                key = value.decode("latin-1")
            elif name == b"content-type":
                content_type = value
        if authorization is None or content_type is None or not content_type.startswith(b"application/json"):
            raise _Ordinary
        if key is not None and len(key) > MAX_KEY:
            raise _Ordinary
        auth: Authenticator = scope["app"].state.auth
        who = await auth.principal(authorization)
        if who is None or "write" not in PERMISSIONS.get(who.role, frozenset()):
            raise _Ordinary
        model: BaseModel = MODELS[kind].model_validate_json(body)
        reason = getattr(model, "reason", "")
        method, path = scope["method"], scope["path"]

        async def fingerprint() -> bytes:
            return method.encode() + b" " + path.encode() + b"\n" + body

        amount: int = model.amount  # type: ignore[attr-defined]
        ref: str | None = model.ref  # type: ignore[attr-defined]
        return await money_text(self.charging, self.idem, kind, account, amount, key, ref, reason, who.name,
                                fingerprint), who


def _continue(head: bytes, receive: Receive) -> Receive:
    """A receive that gives `head` (already read) first, then the rest of the request."""
    sent = False

    async def more() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": head, "more_body": True}
        return await receive()

    return more


__all__ = ["MoneyFastPath"]
