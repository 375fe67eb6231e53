"""The admin HTTP server on a real loopback socket: public /metrics and /healthz, token-protected routes."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest

from ocs import __version__, metrics
from ocs.admin.server import Request, Response, default_router, start_admin

TOKEN = "test-token-123"

pytestmark = pytest.mark.e2e


async def http(port: int, raw: bytes) -> tuple[int, dict[str, str], bytes]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        writer.write(raw)
        await writer.drain()
        data = await asyncio.wait_for(reader.read(), 5)  # the server closes after one response
    finally:
        writer.close()
        await writer.wait_closed()
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    assert int(headers["content-length"]) == len(body)
    return int(status_line.split(" ")[1]), headers, body


def get(path: str, token: str | None = None) -> bytes:
    auth = f"Authorization: Bearer {token}\r\n" if token is not None else ""
    return f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n".encode()


@pytest.fixture
async def port() -> AsyncIterator[int]:
    server = await start_admin("127.0.0.1", 0, TOKEN)
    try:
        yield server.sockets[0].getsockname()[1]
    finally:
        server.close()
        await server.wait_closed()


async def test_metrics_is_public_prometheus_text(port):
    metrics.diameter_framing_errors_total.inc()
    status, headers, body = await http(port, get("/metrics"))
    assert status == 200
    assert headers["content-type"].startswith("text/plain")
    text = body.decode()
    assert "# TYPE ocsd_diameter_requests_total counter" in text
    assert "# TYPE ocsd_diameter_request_seconds histogram" in text
    assert "ocsd_diameter_framing_errors_total " in text


async def test_healthz(port):
    status, headers, body = await http(port, get("/healthz"))
    assert status == 200 and headers["content-type"] == "application/json"
    assert json.loads(body) == {"status": "ok"}


async def test_unknown_path_is_404_json(port):
    status, _, body = await http(port, get("/nope", TOKEN))
    assert status == 404
    assert "error" in json.loads(body)


async def test_protected_route_needs_the_token(port):
    status, headers, body = await http(port, get("/api/v1/info"))
    assert status == 401 and "error" in json.loads(body)
    assert headers["www-authenticate"].startswith("Bearer")
    status, _, _ = await http(port, get("/api/v1/info", "wrong"))
    assert status == 401
    status, _, body = await http(port, get("/api/v1/info", TOKEN))
    assert status == 200
    assert json.loads(body) == {"name": "ocsd", "version": __version__}


async def test_bad_request_is_400_json(port):
    status, _, body = await http(port, b"NONSENSE\r\n\r\n")
    assert status == 400 and "error" in json.loads(body)
    status, _, _ = await http(port, b"GET /healthz HTTP/1.1\r\nno colon here\r\n\r\n")
    assert status == 400
    status, _, _ = await http(port, b"GET /healthz HTTP/1.1\r\nX-Long: " + b"a" * 20000 + b"\r\n\r\n")
    assert status == 400


async def test_wrong_method_is_405(port):
    status, _, body = await http(port, b"POST /healthz HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}")
    assert status == 405 and "error" in json.loads(body)


async def test_query_string_is_ignored_for_routing(port):
    status, _, _ = await http(port, get("/healthz?verbose=1"))
    assert status == 200


async def test_without_a_configured_token_protected_routes_are_refused():
    server = await start_admin("127.0.0.1", 0, None)
    try:
        p = server.sockets[0].getsockname()[1]
        assert (await http(p, get("/api/v1/info", "anything")))[0] == 403
        assert (await http(p, get("/healthz")))[0] == 200
    finally:
        server.close()
        await server.wait_closed()


async def test_routes_can_be_added():
    async def echo(request: Request) -> Response:
        return Response.json(200, {"got": request.json()})

    router = default_router()
    router.add("POST", "/api/v1/echo", echo)
    server = await start_admin("127.0.0.1", 0, TOKEN, router)
    try:
        p = server.sockets[0].getsockname()[1]
        body = b'{"a":1}'
        raw = (f"POST /api/v1/echo HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\n"
               f"Content-Length: {len(body)}\r\n\r\n").encode() + body
        status, _, answer = await http(p, raw)
        assert status == 200 and json.loads(answer) == {"got": {"a": 1}}
        raw = (f"POST /api/v1/echo HTTP/1.1\r\nAuthorization: Bearer {TOKEN}\r\n"
               f"Content-Length: 3\r\n\r\n{{x}}").encode()
        assert (await http(p, raw))[0] == 400
    finally:
        server.close()
        await server.wait_closed()
