"""Errors as RFC 9457 problem details (`application/problem+json`), one stable `type` per domain error.

A problem body is `{"type": ..., "title": ..., "status": ..., "detail": ...}` (RFC 9457 §3.1). The `type` is a
URI naming the kind of error (`urn:ocsd:problem:<code>`), stable across releases: clients branch on it, never
on `title` or `detail`. Charging errors keep their `code` (ocs.charging.errors) as the last part of the URN.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import asyncpg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from ocs.charging import errors as charging
from ocs.provisioning import SubscriberExists, SubscriberNotFound
from ocs.services.catalog import CatalogConflict
from ocs.services.hotspot import PackageExists, UnknownPackage
from ocs.services.plans import PlanExists
from ocs.services.records import BadCursor
from ocs.services.subscriber_admin import UnknownPlan
from ocs.subscribers import errors as domain

log = structlog.get_logger("ocs.admin")

PROBLEM_JSON = "application/problem+json"
PREFIX = "urn:ocsd:problem:"


class Problem(BaseModel):
    """RFC 9457 §3.1 problem details."""

    type: str
    title: str
    status: int
    detail: str = ""


# Charging error code -> HTTP status (the code itself names the problem type).
CHARGING_STATUS: dict[str, int] = {
    "insufficient_funds": 409, "unknown_subscriber": 404, "unknown_account": 404, "unknown_bundle": 404,
    "unknown_tariff": 404, "duplicate_reference": 409, "account_exists": 409, "bundle_exists": 409,
    "currency_mismatch": 422, "invalid_amount": 422, "invalid_currency": 422, "invalid_reference": 422,
    "invalid_recipient": 422, "gift_refunded": 409, "invalid_reason": 422,
}

# Subscriber/store domain errors -> (code, HTTP status).
DOMAIN: dict[type[domain.DomainError], tuple[str, int]] = {
    domain.UnknownUser: ("unknown_subscriber", 404),
    domain.Blocked: ("blocked", 409),
    domain.UnknownSession: ("unknown_session", 404),
    domain.StoreUnavailable: ("store_unavailable", 503),
}

# Provisioning errors (ocs.provisioning, hotspot packages) -> (code, HTTP status); the first match wins.
PROVISIONING: dict[type[Exception], tuple[str, int]] = {
    SubscriberExists: ("subscriber_exists", 409),
    SubscriberNotFound: ("unknown_subscriber", 404),
    UnknownPackage: ("unknown_package", 404),
    PackageExists: ("package_exists", 409),
    PlanExists: ("plan_exists", 409),
    UnknownPlan: ("unknown_plan", 404),
    CatalogConflict: ("catalog_conflict", 409),
    BadCursor: ("invalid_cursor", 422),
}

# Generic HTTP statuses -> code (errors not raised by the domain: auth, routing, validation).
HTTP_CODES: dict[int, str] = {
    400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
    409: "conflict", 415: "unsupported_media_type", 422: "invalid_request", 500: "internal_error",
    503: "unavailable",
}


def problem(status: int, code: str, detail: str = "", headers: dict[str, str] | None = None) -> JSONResponse:
    body = Problem(type=PREFIX + code, title=code.replace("_", " "), status=status, detail=detail)
    return JSONResponse(body.model_dump(), status_code=status, media_type=PROBLEM_JSON, headers=headers)


class ApiError(Exception):
    """Raised by a route for a refusal that is not a domain error (e.g. a wrong role, a reused idempotency key)."""

    def __init__(self, status: int, code: str, detail: str = "") -> None:
        super().__init__(detail or code)
        self.status, self.code, self.detail = status, code, detail


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses` entries for the problems a route can answer (every response has a schema)."""
    return {s: {"model": Problem, "description": HTTPStatus(s).phrase,
                "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}}}
            for s in statuses}


def install(app: FastAPI) -> None:
    async def on_http(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        headers = dict(exc.headers) if exc.headers else None
        return problem(status, HTTP_CODES.get(status, "http_error"), str(exc.detail), headers)

    async def on_validation(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        detail = "; ".join(f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', '')}"
                           for e in exc.errors())
        return problem(422, "invalid_request", detail)

    async def on_api(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        headers = {"WWW-Authenticate": 'Bearer realm="ocsd"'} if exc.status == 401 else None
        return problem(exc.status, exc.code, exc.detail, headers)

    async def on_charging(_request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, charging.ChargingError)
        return problem(CHARGING_STATUS.get(exc.code, 409), exc.code, exc.detail)

    async def on_domain(_request: Request, exc: Exception) -> JSONResponse:
        for cls in type(exc).__mro__:
            if cls in DOMAIN:
                code, status = DOMAIN[cls]  # type: ignore[index]
                return problem(status, code, str(exc))
        return problem(409, "domain_error", str(exc))

    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(ApiError, on_api)
    app.add_exception_handler(charging.ChargingError, on_charging)
    async def on_value(_request: Request, exc: Exception) -> JSONResponse:
        return problem(422, "invalid_request", str(exc))  # a service's own check of an argument

    async def on_provisioning(_request: Request, exc: Exception) -> JSONResponse:
        for cls, (code, status) in PROVISIONING.items():
            if isinstance(exc, cls):
                return problem(status, code, str(exc))
        return problem(409, "conflict", str(exc))

    async def on_internal(request: Request, exc: Exception) -> JSONResponse:
        log.error("admin-handler-failed", method=request.method, path=request.url.path, error=repr(exc))
        return problem(500, "internal_error", "internal error")

    app.add_exception_handler(domain.DomainError, on_domain)
    app.add_exception_handler(Exception, on_internal)
    for cls in PROVISIONING:
        app.add_exception_handler(cls, on_provisioning)
    app.add_exception_handler(ValueError, on_value)  # UnicodeEncodeError too (a lone surrogate in a string)
    app.add_exception_handler(asyncpg.DataError, on_value)  # e.g. a NUL character PostgreSQL cannot store


__all__ = ["PROBLEM_JSON", "ApiError", "Problem", "install", "problem", "problem_responses"]
