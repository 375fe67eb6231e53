"""The admin HTTP port: a FastAPI application served by uvicorn inside the daemon's own event loop (issue 16).

Theory of operation
-------------------
`build_app` makes the FastAPI application: the public routes (GET /metrics for Prometheus, GET /healthz
liveness, GET /readyz readiness — ocs.admin.health), the token-protected routes under /api/v1, the OpenAPI
3.1 document at /openapi.json and the interactive docs at /docs. `start_admin` binds the socket itself (a bind
error is an OSError for the daemon, not uvicorn's sys.exit) and runs `uvicorn.Server` as a task in the running
loop: one process, one loop, HTTP/1.1 keep-alive. uvicorn's own signal handling is switched off: the daemon
owns SIGTERM/SIGINT and stops the admin port with `AdminServer.close()`.

Errors are RFC 9457 problem details (ocs.admin.problems). Access: `Authorization: Bearer <token>` resolved to
a role by an `Authenticator` (ocs.admin.auth): the `[admin] token` of the config is an admin token.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any

import asyncpg
import structlog
import uvicorn
from fastapi import APIRouter, FastAPI
from fastapi.responses import Response
from pydantic import BaseModel

from ocs import __version__, metrics
from ocs.admin import problems
from ocs.admin.audit import AuditMiddleware, AuditWriter
from ocs.admin.auth import Authenticator, Reader
from ocs.admin.fairness import InFlightLimit

log = structlog.get_logger("ocs.admin")

PROMETHEUS_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
SHUTDOWN_GRACE = 2  # seconds open requests (and event streams) get when the daemon stops

RouteAdder = Callable[[FastAPI], None]

try:
    import httptools  # noqa: F401  (uvicorn[standard]; h11 otherwise)

    HTTP_PROTOCOL = "httptools"
except ImportError:  # pragma: no cover
    HTTP_PROTOCOL = "h11"


class Healthz(BaseModel):
    status: str


class Info(BaseModel):
    name: str
    version: str


def build_app(auth: Authenticator, extra: tuple[RouteAdder, ...] = (), pool: asyncpg.Pool | None = None,
              max_in_flight: int = 0) -> FastAPI:
    """The admin application; each of `extra` adds its routes (health, resources, events); with `pool`, every
    write is audited in PostgreSQL (ocs.admin.audit); with `max_in_flight`, at most that many API requests are
    worked on at once (ocs.admin.fairness)."""
    app = FastAPI(title="ocsd admin API", version=__version__, openapi_url="/openapi.json", docs_url="/docs",
                  redoc_url=None, responses=problems.problem_responses(401, 403, 422))
    app.state.auth = auth
    app.state.closers = []  # coroutine functions run once the server stopped (AdminServer.wait_closed)
    problems.install(app)

    @app.get("/metrics", response_class=Response, tags=["health"],
             responses={200: {"content": {PROMETHEUS_CONTENT_TYPE: {"schema": {"type": "string"}}},
                              "description": "Prometheus text exposition"}})
    async def get_metrics() -> Response:
        """Prometheus metrics (public)."""
        return Response(metrics.render(), media_type=PROMETHEUS_CONTENT_TYPE)

    @app.get("/healthz", tags=["health"])
    async def get_healthz() -> Healthz:
        """Liveness: the event loop answered (public)."""
        return Healthz(status="ok")

    api = APIRouter(prefix="/api/v1")

    @api.get("/info", tags=["health"])
    async def get_info(_who: Reader) -> Info:
        """Name and version of the daemon."""
        return Info(name="ocsd", version=__version__)

    app.include_router(api)
    for add in extra:
        add(app)
    if pool is not None:
        writer = AuditWriter(pool)
        app.add_middleware(AuditMiddleware, writer=writer)
        app.state.closers.append(writer.close)
    if max_in_flight:
        app.add_middleware(InFlightLimit, limit=max_in_flight)  # outermost: a waiting request holds nothing
    return app


class _InLoopServer(uvicorn.Server):
    """uvicorn without its signal handlers (the daemon has its own) and with an event set once listening."""

    def __init__(self, config: uvicorn.Config) -> None:
        super().__init__(config)
        self.listening = asyncio.Event()

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None, None, None]:
        yield

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        self.listening.set()


@dataclass
class AdminServer:
    """The running admin port: `sockets` to learn the port, `close()` + `wait_closed()` to stop."""

    server: _InLoopServer
    task: asyncio.Task[None]
    sockets: list[socket.socket]

    def close(self) -> None:
        self.server.should_exit = True

    async def wait_closed(self) -> None:
        with contextlib.suppress(asyncio.CancelledError):
            await self.task
        app: Any = self.server.config.app
        for close in app.state.closers:
            await close()


def _bind(host: str, port: int, reuse_port: bool = False) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:  # worker processes share the admin port (issue 19)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.listen(128)
    sock.setblocking(False)
    return sock


async def start_admin(host: str, port: int, app: FastAPI, *, reuse_port: bool = False) -> AdminServer:
    """Listen for admin HTTP requests on host:port with `app`, in the running loop."""
    sock = _bind(host, port, reuse_port)
    # The small configuration (issue 16 point 7): httptools' C parser rather than h11, no websockets, no access
    # log (the audit table and ocsd_admin_requests_total record what matters), no lifespan, no Server header.
    config = uvicorn.Config(app, lifespan="off", log_config=None, access_log=False, server_header=False,
                            date_header=False, http=HTTP_PROTOCOL, ws="none",
                            timeout_graceful_shutdown=SHUTDOWN_GRACE, timeout_keep_alive=30)
    logging.getLogger("uvicorn.error").setLevel(logging.WARNING)  # its "Started server process" lines
    server = _InLoopServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]), name="admin-http")
    listening = asyncio.create_task(server.listening.wait())
    done, _ = await asyncio.wait({task, listening}, return_when=asyncio.FIRST_COMPLETED)
    if listening not in done:
        listening.cancel()
        sock.close()
        task.result()  # raises what stopped uvicorn
        raise OSError(f"the admin port {host}:{port} did not start")
    log.info("listening", protocol="admin-http", address=str(sock.getsockname()))
    return AdminServer(server, task, [sock])


__all__ = ["AdminServer", "build_app", "start_admin"]
