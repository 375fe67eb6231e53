"""RADIUS over UDP (RFC 2865 §3, RFC 2866 §3): an asyncio DatagramProtocol around the pure `radius` package.

Each datagram: client by source address (unknown: drop), `check_request` (bad authenticator, missing or bad
Message-Authenticator: drop), the duplicate cache (a retransmission gets the reply already sent and changes
nothing), then `RadiusDispatch`. A handler that awaits a store gets a task here; its reply is sent when it
completes (an Accounting-Response only after the packet is recorded, RFC 2866 §2). Every drop is counted by
reason (`ocsd_radius_drops_total`) and never answered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, cast

import structlog
from pyrad.dictionary import Dictionary

from ocs import metrics
from ocs.apps.dispatch import RadiusAnswer, RadiusContext, RadiusDispatch, RadiusRoute
from radius.clients import ClientTable
from radius.duplicates import DuplicateCache, Key
from radius.packets import (
    CODE_NAMES,
    UNKNOWN_CLIENT,
    Drop,
    RadiusRequest,
    check_request,
    check_response,
    encode_reply,
    encode_request,
)

log = structlog.get_logger("ocs.radius")
NO_HANDLER = "no-handler"
REFUSED = "refused"  # the handler (or the error table) chose not to answer


class _Protocol(asyncio.DatagramProtocol):
    def __init__(self, server: RadiusServer) -> None:
        self.server = server
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        if self.transport is not None:
            self.server.received(data, addr, self.transport)

    def error_received(self, exc: Exception) -> None:  # ICMP errors on sends: nothing to do for a server
        pass


class RadiusServer:
    def __init__(self, clients: ClientTable, dictionary: Dictionary, dispatch: RadiusDispatch,
                 duplicate_window: float = 5.0, send: Any = None) -> None:
        self.clients = clients
        self.dictionary = dictionary
        self.dispatch = dispatch
        self.duplicates = DuplicateCache(duplicate_window)
        self.send = send  # Disconnect/CoA sender handed to handlers in their context
        self.loop = asyncio.get_running_loop()
        self.transports: list[asyncio.DatagramTransport] = []
        self._tasks: set[asyncio.Task[None]] = set()

    async def listen(self, host: str, port: int, *, reuse_port: bool = False) -> asyncio.DatagramTransport:
        transport, _ = await self.loop.create_datagram_endpoint(lambda: _Protocol(self), local_addr=(host, port),
                                                                reuse_port=reuse_port or None)
        self.transports.append(transport)
        return transport

    def received(self, data: bytes, addr: tuple[Any, ...], transport: asyncio.DatagramTransport) -> None:
        host, port = addr[0], addr[1]
        client = self.clients.lookup(host)
        if client is None:
            metrics.radius_drops_total.inc((UNKNOWN_CLIENT,))  # RFC 2865 §3: silently discarded
            return
        try:
            request = check_request(data, client, self.dictionary)
        except Drop as d:
            metrics.radius_drops_total.inc((d.reason,))
            return
        key: Key = (host, port, request.identifier, request.authenticator)
        cached = self.duplicates.seen(key, self.loop.time())
        if cached is not None:  # RFC 5080 §2.2.2: a retransmission; never handled twice
            if cached:
                transport.sendto(cached, addr)
            metrics.radius_requests_total.inc((client.name, request.name, "duplicate"))
            return
        route = self.dispatch.route(request.code)
        if route is None:
            self.duplicates.forget(key)
            metrics.radius_drops_total.inc((NO_HANDLER,))
            return
        ctx = RadiusContext(client.name, host, port, self.send)
        answer = self.dispatch.dispatch(route, request, ctx)
        if answer is None or not isinstance(answer, Awaitable):
            self._reply(route, request, answer, key, addr, transport)
            return
        task = self.loop.create_task(self._finish(route, request, answer, key, addr, transport))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _finish(self, route: RadiusRoute, request: RadiusRequest, pending: Awaitable[RadiusAnswer],
                      key: Key, addr: tuple[Any, ...], transport: asyncio.DatagramTransport) -> None:
        self._reply(route, request, await pending, key, addr, transport)

    def _reply(self, route: RadiusRoute, request: RadiusRequest, answer: RadiusAnswer, key: Key,
               addr: tuple[Any, ...], transport: asyncio.DatagramTransport) -> None:
        client = request.client.name
        if answer is None:
            self.duplicates.forget(key)  # the NAS retransmits; that one is worked on afresh
            metrics.radius_drops_total.inc((REFUSED,))
            metrics.radius_requests_total.inc((client, route.command_name, "dropped"))
            return
        try:
            data = encode_reply(request, answer, self.dictionary)
        except (KeyError, ValueError, TypeError) as e:  # a reply attribute the dictionary cannot encode: a bug
            self.duplicates.forget(key)
            log.error("radius-encode-failed", client=client, code=answer.code, error=repr(e))
            metrics.radius_requests_total.inc((client, route.command_name, "failed"))
            return
        self.duplicates.answered(key, data)
        if not transport.is_closing():
            transport.sendto(data, addr)
        metrics.radius_requests_total.inc((client, route.command_name, CODE_NAMES.get(answer.code, "other")))

    async def stop(self) -> None:
        for t in self.transports:
            t.close()
        if self._tasks:
            await asyncio.wait(list(self._tasks), timeout=5.0)



class _DynAuthProtocol(asyncio.DatagramProtocol):
    def __init__(self, client: DynAuthClient) -> None:
        self.client = client

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.client.received(data, addr)

    def error_received(self, exc: Exception) -> None:  # ICMP port unreachable: the retransmission timer decides
        pass


class DynAuthClient:
    """Sends Disconnect-Request / CoA-Request (RFC 5176) from one UDP socket and awaits the router's answer:
    the same datagram is sent again every `timeout` seconds, `retries` more times, then the outcome is a timeout.
    Responses are matched by (router address, Identifier) and checked with the shared secret."""

    def __init__(self, dictionary: Dictionary, timeout: float, retries: int) -> None:
        self.dictionary = dictionary
        self.timeout = timeout
        self.retries = retries
        self.transport: asyncio.DatagramTransport | None = None
        self._pending: dict[tuple[str, int], tuple[bytes, bytes, asyncio.Future[int]]] = {}
        self._next_id = 0

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        transport, _ = await loop.create_datagram_endpoint(lambda: _DynAuthProtocol(self),
                                                           local_addr=("0.0.0.0", 0))
        self.transport = transport

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        if len(data) < 20:
            return
        entry = self._pending.get((addr[0], data[1]))
        if entry is None:
            return
        request, secret, fut = entry
        code = check_response(data, request, secret)
        if code is not None and not fut.done():
            fut.set_result(code)

    def _identifier(self, host: str) -> int:
        for _ in range(256):
            self._next_id = (self._next_id + 1) & 0xFF
            if (host, self._next_id) not in self._pending:
                return self._next_id
        raise RuntimeError(f"256 requests to {host} in flight")

    async def send(self, host: str, port: int, secret: bytes, code: int,
                   attributes: list[tuple[str, object]]) -> tuple[int | None, int]:
        """(the response code or None after the last timeout, the number of sends)."""
        if self.transport is None:
            await self.start()
        assert self.transport is not None
        identifier = self._identifier(host)
        request = encode_request(code, identifier, attributes, secret, self.dictionary)
        fut: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._pending[(host, identifier)] = (request, secret, fut)
        sends = 0
        try:
            for _ in range(1 + self.retries):
                self.transport.sendto(request, (host, port))
                sends += 1
                try:
                    return await asyncio.wait_for(asyncio.shield(fut), self.timeout), sends
                except TimeoutError:
                    continue
            return None, sends
        finally:
            del self._pending[(host, identifier)]


__all__ = ["DynAuthClient", "RadiusServer"]
