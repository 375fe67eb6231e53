"""The admin HTTP port (FastAPI under uvicorn in the test's loop) on a real loopback socket: public /metrics
and /healthz, token-protected routes, RFC 9457 problem+json errors, OpenAPI 3.1, keep-alive."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import httpx
import pytest

from ocs import __version__, metrics
from ocs.admin.auth import Authenticator
from ocs.admin.server import build_app, start_admin

TOKEN = "test-token-123"

pytestmark = pytest.mark.e2e


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    server = await start_admin("127.0.0.1", 0, build_app(Authenticator(TOKEN)))
    port = server.sockets[0].getsockname()[1]
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as c:
            yield c
    finally:
        server.close()
        await server.wait_closed()


def is_problem(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body = r.json()
    assert body["type"] == f"urn:ocsd:problem:{code}" and body["status"] == status and body["title"]


async def test_metrics_is_public_prometheus_text(client):
    metrics.diameter_framing_errors_total.inc()
    r = await client.get("/metrics")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/plain")
    assert "# TYPE ocsd_diameter_requests_total counter" in r.text
    assert "# TYPE ocsd_diameter_request_seconds histogram" in r.text
    assert "ocsd_diameter_framing_errors_total " in r.text


async def test_healthz(client):
    r = await client.get("/healthz")
    assert r.status_code == 200 and r.headers["content-type"] == "application/json"
    assert r.json() == {"status": "ok"}


async def test_unknown_path_is_404_problem(client):
    is_problem(await client.get("/nope", headers={"Authorization": f"Bearer {TOKEN}"}), 404, "not_found")


async def test_protected_route_needs_the_token(client):
    r = await client.get("/api/v1/info")
    is_problem(r, 401, "unauthorized")
    assert r.headers["www-authenticate"].startswith("Bearer")
    is_problem(await client.get("/api/v1/info", headers={"Authorization": "Bearer wrong"}), 401, "unauthorized")
    r = await client.get("/api/v1/info", headers={"Authorization": f"Bearer {TOKEN}"})
    assert r.status_code == 200 and r.json() == {"name": "ocsd", "version": __version__}


async def test_bad_request_is_400(client):
    port = int(str(client.base_url).rsplit(":", 1)[1].rstrip("/"))
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"NONSENSE\r\n\r\n")
    data = await asyncio.wait_for(reader.read(), 5)
    writer.close()
    assert data.startswith(b"HTTP/1.1 400")


async def test_wrong_method_is_405_problem(client):
    is_problem(await client.post("/healthz", json={}), 405, "method_not_allowed")


async def test_query_string_is_ignored_for_routing(client):
    assert (await client.get("/healthz?verbose=1")).status_code == 200


async def test_keep_alive_serves_many_requests_on_one_connection(client):
    for _ in range(5):
        assert (await client.get("/healthz")).status_code == 200
    r = await client.get("/healthz")
    assert r.headers.get("connection", "keep-alive") != "close"


async def test_openapi_31_and_docs(client):
    r = await client.get("/openapi.json")
    assert r.status_code == 200
    spec = r.json()
    assert spec["openapi"].startswith("3.1")
    assert {"/metrics", "/healthz", "/api/v1/info"} <= set(spec["paths"])
    assert "Problem" in spec["components"]["schemas"]
    assert (await client.get("/docs")).status_code == 200


async def test_without_a_configured_token_protected_routes_are_refused():
    server = await start_admin("127.0.0.1", 0, build_app(Authenticator(None)))
    try:
        p = server.sockets[0].getsockname()[1]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{p}", timeout=5) as c:
            is_problem(await c.get("/api/v1/info", headers={"Authorization": "Bearer anything"}), 403, "forbidden")
            assert (await c.get("/healthz")).status_code == 200
    finally:
        server.close()
        await server.wait_closed()


async def test_a_taken_port_is_an_oserror():
    server = await start_admin("127.0.0.1", 0, build_app(Authenticator(TOKEN)))
    try:
        with pytest.raises(OSError):
            await start_admin("127.0.0.1", server.sockets[0].getsockname()[1], build_app(Authenticator(TOKEN)))
    finally:
        server.close()
        await server.wait_closed()
