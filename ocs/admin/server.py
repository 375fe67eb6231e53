"""A small HTTP/1.1 server for the admin port, on asyncio streams (no framework).

Theory of operation
-------------------
One request per connection: read the request line and headers (bounded sizes, a deadline), read a body when
Content-Length says so, look the (method, path) up in a `Router`, check the bearer token unless the route is
public, call the handler, write the response with `Connection: close`. Every error answer is JSON
`{"error": "..."}`.

Access: GET /metrics and GET /healthz are public (Prometheus and health checks need no secret; bind the port
to loopback or a management network). Every other route needs `Authorization: Bearer <token>` with the
configured [admin] token; with no token configured those routes answer 403. Management routes are added to a
`Router` (`router.add("POST", "/api/v1/...", handler)`) and passed to `start_admin`.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from http import HTTPStatus

import structlog

from ocs import __version__, metrics

log = structlog.get_logger("ocs.admin")

MAX_LINE = 8192          # request line or one header line
MAX_HEADERS = 64
MAX_BODY = 1 << 20
READ_TIMEOUT = 10.0      # seconds for a whole request to arrive

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    path: str
    query: str
    headers: dict[str, str]  # lower-case names
    body: bytes = b""

    def json(self) -> object:
        """The body as JSON (None when empty); a body that is not JSON is the client's error (400)."""
        if not self.body:
            return None
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise BadRequest(f"body is not JSON: {e}") from e


@dataclass(frozen=True, slots=True)
class Response:
    status: int
    body: bytes = b""
    content_type: str = "application/json"

    @classmethod
    def json(cls, status: int, value: object) -> Response:
        return cls(status, json.dumps(value, separators=(",", ":")).encode() + b"\n")

    @classmethod
    def error(cls, status: int, message: str) -> Response:
        return cls.json(status, {"error": message})


Handler = Callable[[Request], Awaitable[Response]]


@dataclass(frozen=True, slots=True)
class Route:
    handler: Handler
    public: bool = False  # True: no token needed


@dataclass
class Router:
    routes: dict[tuple[str, str], Route] = field(default_factory=dict)

    def add(self, method: str, path: str, handler: Handler, *, public: bool = False) -> None:
        key = (method.upper(), path)
        if key in self.routes:
            raise ValueError(f"a route for {method} {path} exists")
        self.routes[key] = Route(handler, public)

    def find(self, method: str, path: str) -> Route | Response:
        route = self.routes.get((method, path))
        if route is not None:
            return route
        allowed = sorted(m for (m, p) in self.routes if p == path)
        if allowed:
            return Response.error(HTTPStatus.METHOD_NOT_ALLOWED,
                                  f"{method} not allowed; use {', '.join(allowed)}")
        return Response.error(HTTPStatus.NOT_FOUND, f"no such path: {path}")


class BadRequest(Exception):
    pass


# --- built-in routes ----------------------------------------------------------------------------------------


async def get_metrics(_request: Request) -> Response:
    return Response(HTTPStatus.OK, metrics.render(), PROMETHEUS_CONTENT_TYPE)


async def get_healthz(_request: Request) -> Response:
    return Response.json(HTTPStatus.OK, {"status": "ok"})


async def get_info(_request: Request) -> Response:
    return Response.json(HTTPStatus.OK, {"name": "ocsd", "version": __version__})


def default_router() -> Router:
    router = Router()
    router.add("GET", "/metrics", get_metrics, public=True)
    router.add("GET", "/healthz", get_healthz, public=True)
    router.add("GET", "/api/v1/info", get_info)
    return router


# --- the protocol -------------------------------------------------------------------------------------------


async def _read_line(reader: asyncio.StreamReader) -> bytes:
    try:
        line = await reader.readuntil(b"\n")
    except asyncio.LimitOverrunError as e:
        raise BadRequest("line too long") from e
    except asyncio.IncompleteReadError as e:
        raise BadRequest("incomplete request") from e
    if len(line) > MAX_LINE:
        raise BadRequest("line too long")
    return line.rstrip(b"\r\n")


async def read_request(reader: asyncio.StreamReader) -> Request:
    """One request (RFC 9112 §2–§6, the subset we need); raises BadRequest."""
    start = (await _read_line(reader)).decode("latin-1")
    parts = start.split(" ")
    if len(parts) != 3 or not parts[2].startswith("HTTP/1.") or not parts[1].startswith("/"):
        raise BadRequest("malformed request line")
    method, target, _version = parts
    headers: dict[str, str] = {}
    while True:
        line = await _read_line(reader)
        if not line:
            break
        if len(headers) >= MAX_HEADERS:
            raise BadRequest("too many headers")
        name, sep, value = line.decode("latin-1").partition(":")
        if not sep or not name or name != name.strip():
            raise BadRequest("malformed header")
        headers[name.lower()] = value.strip()
    if "transfer-encoding" in headers:
        raise BadRequest("transfer-encoding not supported; send Content-Length")
    body = b""
    length_text = headers.get("content-length")
    if length_text is not None:
        if not length_text.isdigit() or int(length_text) > MAX_BODY:
            raise BadRequest("bad content-length")
        try:
            body = await reader.readexactly(int(length_text))
        except asyncio.IncompleteReadError as e:
            raise BadRequest("incomplete body") from e
    path, _, query = target.partition("?")
    return Request(method.upper(), path, query, headers, body)


def authorized(request: Request, token: str | None) -> bool:
    if token is None:
        return False
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())


def encode_response(response: Response, *, head: bool = False) -> bytes:
    reason = HTTPStatus(response.status).phrase
    lines = [
        f"HTTP/1.1 {response.status} {reason}",
        f"Content-Type: {response.content_type}",
        f"Content-Length: {len(response.body)}",
        "Connection: close",
        "Cache-Control: no-store",
    ]
    if response.status == HTTPStatus.UNAUTHORIZED:
        lines.append('WWW-Authenticate: Bearer realm="ocsd"')
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + (b"" if head else response.body)


async def respond(request: Request, router: Router, token: str | None) -> Response:
    found = router.find(request.method, request.path)
    if isinstance(found, Response):
        return found
    if not found.public:
        if token is None:
            return Response.error(HTTPStatus.FORBIDDEN, "no admin token is configured ([admin] token)")
        if not authorized(request, token):
            return Response.error(HTTPStatus.UNAUTHORIZED, "missing or wrong bearer token")
    return await found.handler(request)


async def _serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, router: Router,
                 token: str | None) -> None:
    request: Request | None = None
    unread = False  # the request was not read to its end: drain before closing, or the client may see RST
    try:
        try:
            request = await asyncio.wait_for(read_request(reader), READ_TIMEOUT)
        except BadRequest as e:
            response = Response.error(HTTPStatus.BAD_REQUEST, str(e))
            unread = True
        except TimeoutError:
            response = Response.error(HTTPStatus.REQUEST_TIMEOUT, "request not received in time")
        else:
            try:
                response = await respond(request, router, token)
            except BadRequest as e:
                response = Response.error(HTTPStatus.BAD_REQUEST, str(e))
            except Exception:
                log.exception("admin-handler-failed", method=request.method, path=request.path)
                response = Response.error(HTTPStatus.INTERNAL_SERVER_ERROR, "internal error")
        writer.write(encode_response(response))
        await writer.drain()
        if unread:
            await _linger(reader, writer)
        if request is not None and request.path != "/metrics":
            log.debug("admin-request", method=request.method, path=request.path, status=response.status)
    except ConnectionError as e:
        log.debug("admin-client-gone", error=str(e))  # nothing left to answer
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


async def _linger(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Half-close, then discard what the client still sends for a moment (a "lingering close")."""
    if writer.can_write_eof():
        writer.write_eof()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(1.0):
            while await reader.read(65536):
                pass


async def start_admin(host: str, port: int, token: str | None,
                      router: Router | None = None) -> asyncio.Server:
    """Listen for admin HTTP requests; `router` defaults to /metrics, /healthz and GET /api/v1/info."""
    routes = router if router is not None else default_router()

    async def on_connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await _serve(reader, writer, routes, token)

    server = await asyncio.start_server(on_connection, host, port, limit=MAX_LINE + 2)
    for sock in server.sockets:
        log.info("listening", protocol="admin-http", address=str(sock.getsockname()))
    return server


__all__ = ["BadRequest", "Request", "Response", "Route", "Router", "default_router", "start_admin"]
