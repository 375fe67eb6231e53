"""Diameter over TCP (RFC 6733 §2.1): sockets and one timer around the sans-IO `Node`.

Every socket event is handed to the node with `loop.time()`; its effects are carried out right away; the one
timer is re-armed at the node's next deadline. Requests go to `ocs.apps.dispatch`: a plain handler answers
within the same turn, an awaitable one gets a task here (the only asyncio in the request path).

Write backpressure: a peer that sends requests but does not read its answers would make us buffer them without
end. Each transport has a high- and a low-water mark on its write buffer; above the high one asyncio calls
`pause_writing` and we stop reading that connection (its requests wait in the kernel, its TCP window closes),
below the low one `resume_writing` starts reading again. Other connections are not affected. A connection we
close is given `close_grace` seconds to take what is still buffered, then aborted (a peer that never reads would
otherwise hold it open, with its buffer, for ever).

Notices (refusals, framing errors, CER timeouts, ...) are logged with the connection's remote address and
port; repeats of one event from one source address are rate-limited (`ocs.transport.ratelimit`): the first is
logged, the rest are counted and summarised once per interval with `suppressed=N`.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import cast

import structlog

from ocs import metrics
from ocs.apps.dispatch import Context, Dispatch, Route
from ocs.diameter.answers import result_of
from ocs.diameter.message import Message
from ocs.diameter.node import (
    AnswerReceived,
    Close,
    Connect,
    Node,
    Notice,
    PeerDown,
    PeerUp,
    RequestFailed,
    RequestReceived,
    Write,
)
from ocs.transport.ratelimit import RateLimiter
from ocs.transport.trace import Tracer

log = structlog.get_logger("ocs.diameter")


def remote_address(transport: asyncio.BaseTransport) -> str | None:
    """The peer's "address:port" ("[v6]:port" for IPv6), or None when the socket has none (already gone)."""
    name = transport.get_extra_info("peername")
    if not isinstance(name, tuple) or len(name) < 2:
        return None
    host, port = str(name[0]), name[1]
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _source(remote: str) -> str:
    """The address part of "address:port": repeated events are counted per source address, not per port."""
    return remote.rpartition(":")[0]


class _Protocol(asyncio.Protocol):
    __slots__ = ("server", "conn_id", "peer", "transport")

    def __init__(self, server: DiameterServer, peer: str | None = None) -> None:
        self.server = server
        self.peer = peer
        self.conn_id = 0
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports do not subclass asyncio.Transport, so no isinstance check here
        self.transport = transport = cast(asyncio.Transport, transport)
        server = self.server
        transport.set_write_buffer_limits(high=server.write_buffer_high, low=server.write_buffer_low)
        remote = remote_address(transport)
        self.conn_id = conn_id = server.node.connection_made(server.loop.time(), self.peer)
        server.transports[conn_id] = transport
        if remote is not None:
            server.remotes[conn_id] = remote
        server.flush()

    def pause_writing(self) -> None:
        # The peer reads its answers slower than it sends requests: stop reading until it catches up, so its
        # answers cannot pile up here (write backpressure).
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.pause_reading()
            metrics.diameter_read_pauses_total.inc()

    def resume_writing(self) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        server = self.server
        server.node.data_received(self.conn_id, data, server.loop.time())
        server.flush()

    def connection_lost(self, exc: Exception | None) -> None:
        server = self.server
        server.transports.pop(self.conn_id, None)
        server.node.connection_lost(self.conn_id, server.loop.time())
        server.flush()
        server.remotes.pop(self.conn_id, None)  # after the flush: its notices still name the remote


class DiameterServer:
    def __init__(self, node: Node, dispatch: Dispatch, *, write_buffer_high: int = 1 << 20,
                 write_buffer_low: int = 1 << 18, notice_interval: float = 10.0, close_grace: float = 5.0) -> None:
        if not 0 <= write_buffer_low <= write_buffer_high:
            raise ValueError("write buffer marks must be 0 <= low <= high")
        self.node = node
        self.dispatch = dispatch
        if dispatch.report is None:
            dispatch.report = _report
        self.loop = asyncio.get_running_loop()
        self.write_buffer_high = write_buffer_high
        self.write_buffer_low = write_buffer_low
        self.close_grace = close_grace
        self.transports: dict[int, asyncio.Transport] = {}
        self.remotes: dict[int, str] = {}  # conn_id -> "address:port" of the other end, for the logs
        self._notices: RateLimiter[tuple[str, str | None]] = RateLimiter(notice_interval)
        self._notice_timer: asyncio.TimerHandle | None = None
        metrics.diameter_write_buffer_bytes.set_function(self.write_buffer_size)
        metrics.peer_states.source = self._peer_state_names
        self.servers: list[asyncio.Server] = []
        self.tasks: set[asyncio.Task[None]] = set()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None
        self._answers: dict[int, asyncio.Future[Message]] = {}
        self._closed = asyncio.Event()
        self.on_peer_change: Callable[[], None] | None = None
        self.trace: Tracer | None = None  # [log] trace: a line per request and answer (ocs.transport.trace)
        self.on_peer: Callable[[str, bool], None] | None = None  # peer up/down (ocs.services.forward)
        self._traced: dict[int, tuple[str, Message]] = {}  # token -> (peer, request), while tracing
        self._flush_soon = False

    def write_buffer_size(self) -> int:
        """Octets written to peers and not yet taken by the kernel, over every connection."""
        return sum(t.get_write_buffer_size() for t in self.transports.values())

    async def listen(self, host: str, port: int, *, reuse_port: bool = False) -> asyncio.Server:
        server = await self.loop.create_server(lambda: _Protocol(self), host, port, reuse_address=True,
                                               reuse_port=reuse_port or None)
        self.servers.append(server)
        return server

    def start(self) -> None:
        self.node.start(self.loop.time())
        self.flush()

    async def stop(self, grace: float | None = None) -> None:
        """Stop listening; the node sends each peer its DPR once the requests it sent are answered (RFC 6733
        §5.4), and we wait for the DPAs (at most the node's drain and DPA timeouts, or `grace`)."""
        for server in self.servers:
            server.close()
        settings = self.node.settings
        deadline = self.loop.time() + (grace if grace is not None else settings.drain_timeout + settings.dpa_timeout)
        self.node.stop(self.loop.time())
        self.flush()
        while not self.node.all_closed and self.loop.time() < deadline:
            self._closed.clear()
            try:
                await asyncio.wait_for(self._closed.wait(), timeout=max(0.0, deadline - self.loop.time()))
            except TimeoutError:
                break
        for transport in list(self.transports.values()):
            self._close(transport)
        if self._timer is not None:
            self._timer.cancel()
        if self._notice_timer is not None:
            self._notice_timer.cancel()
        self._notice_summaries(now=float("inf"))  # what was counted is still told

    async def request(self, peer: str, message: Message) -> Message:
        """Send a request we originate and wait for its answer (RequestFailed raises TimeoutError)."""
        hbh = self.node.send_request(peer, message, self.loop.time())
        self.flush()
        if hbh is None:
            raise ConnectionError(f"peer {peer} is not open")
        future: asyncio.Future[Message] = self.loop.create_future()
        self._answers[hbh] = future
        if self.trace is None:
            return await future
        self.trace.request(peer, "out", message)
        started = time.perf_counter()
        answer = await future
        self.trace.answer(peer, "in", answer, time.perf_counter() - started, request=message)
        return answer

    # --- effects -------------------------------------------------------------------------------------------
    def flush(self) -> None:
        """Carry out the node's effects. What is written to one connection in one flush leaves in one write
        (the answers to a pipelined burst of requests share a syscall); a Close first sends what is pending."""
        node = self.node
        pending: dict[int, list[bytes]] = {}
        effects = node.pop_effects()
        while effects:
            for effect in effects:
                kind = type(effect)
                if kind is Write:
                    pending.setdefault(effect.conn_id, []).append(effect.data)  # type: ignore[union-attr,arg-type]
                elif kind is RequestReceived:
                    self._dispatch(effect)  # type: ignore[arg-type]
                else:
                    if kind is Close:
                        self._write_pending(pending, effect.conn_id)  # type: ignore[union-attr,arg-type]
                    self._other(effect)
            effects = node.pop_effects()
        for conn_id in list(pending):
            self._write_pending(pending, conn_id)
        self._arm()

    def _write_pending(self, pending: dict[int, list[bytes]], conn_id: int) -> None:
        chunks = pending.pop(conn_id, None)
        transport = self.transports.get(conn_id)
        if chunks and transport is not None:
            transport.write(chunks[0] if len(chunks) == 1 else b"".join(chunks))

    def _other(self, effect: object) -> None:
        if isinstance(effect, Close):
            transport = self.transports.pop(effect.conn_id, None)
            if transport is not None:
                self._close(transport)
        elif isinstance(effect, Connect):
            task = self.loop.create_task(self._connect(effect))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
        elif isinstance(effect, AnswerReceived):
            future = self._answers.pop(effect.hop_by_hop, None)
            if future is not None and not future.done():
                future.set_result(effect.message)
        elif isinstance(effect, RequestFailed):
            future = self._answers.pop(effect.hop_by_hop, None)
            if future is not None and not future.done():
                future.set_exception(TimeoutError(f"{effect.reason}: peer {effect.peer}"))
        elif isinstance(effect, PeerUp):
            log.info("peer-up", peer=effect.peer, product=effect.capabilities.product_name,
                     remote=self.remotes.get(effect.conn_id))
            metrics.diameter_peer_events_total.labels(event="up").inc()
            if self.on_peer is not None:
                self.on_peer(effect.peer, True)
            self._peer_gauges()
        elif isinstance(effect, PeerDown):
            log.info("peer-down", peer=effect.peer, reason=effect.reason)
            metrics.diameter_peer_events_total.labels(event="down").inc()
            if self.on_peer is not None:
                self.on_peer(effect.peer, False)
            self._peer_gauges()
        elif isinstance(effect, Notice):
            self._notice(effect)
        if self.node.all_closed:
            self._closed.set()

    def _notice(self, notice: Notice) -> None:
        """Count every notice; log it with the remote address, unless the same event came from the same source
        address (or, without one, the same peer) within the interval: then it is counted for the summary."""
        if notice.event == "framing-error":
            metrics.diameter_framing_errors_total.inc()
        metrics.diameter_peer_events_total.labels(event=notice.event).inc()
        remote = self.remotes.get(notice.conn_id) if notice.conn_id is not None else None
        source = _source(remote) if remote is not None else notice.peer
        if self._notices.hit((notice.event, source), self.loop.time(), remote):
            log.info(notice.event, peer=notice.peer, remote=remote, detail=notice.detail)
        if self._notice_timer is None:  # one timer for every window: summaries on time, ended windows dropped
            due = self._notices.next_deadline()
            if due is not None:
                self._notice_timer = self.loop.call_at(due, self._notice_summaries)

    def _notice_summaries(self, now: float | None = None) -> None:
        self._notice_timer = None
        for summary in self._notices.expire(self.loop.time() if now is None else now):
            event, source = summary.key
            log.info(event, source=source, remote=summary.last, suppressed=summary.suppressed)
        due = self._notices.next_deadline()
        if due is not None and now is None:
            self._notice_timer = self.loop.call_at(due, self._notice_summaries)

    def _close(self, transport: asyncio.Transport) -> None:
        """Close after what is written has been sent; a peer that does not read it within `close_grace` would
        hold the connection (and its buffer) for ever, so the connection is then aborted."""
        transport.close()
        if transport.get_write_buffer_size():
            self.loop.call_later(self.close_grace, transport.abort)

    def _peer_state_names(self) -> dict[str, str]:
        return {name: state.value for name, state in self.node.peer_states().items()}

    def _peer_gauges(self) -> None:
        counts: dict[str, int] = {}
        for state in self.node.peer_states().values():
            counts[state.value] = counts.get(state.value, 0) + 1
        for state_name in metrics.PEER_STATES:
            metrics.diameter_peers.labels(state=state_name).set(counts.get(state_name, 0))
        if self.on_peer_change is not None:
            self.on_peer_change()

    async def _connect(self, effect: Connect) -> None:
        try:
            await asyncio.wait_for(
                self.loop.create_connection(lambda: _Protocol(self, effect.peer), effect.host, effect.port),
                timeout=self.node.settings.connect_timeout)
        except (OSError, TimeoutError) as e:
            log.info("connect-failed", peer=effect.peer, host=effect.host, port=effect.port, error=str(e))
            self.node.connect_failed(effect.peer, self.loop.time())
            self.flush()

    def _arm(self) -> None:
        at = self.node.next_deadline()
        if at == self._timer_at or (at is not None and self._timer_at is not None and at > self._timer_at):
            # an armed earlier timer stays: when it fires, nothing is due yet and it is re-armed then. This
            # keeps the watchdog, whose deadline moves with every message received, off the hot path.
            return
        if self._timer is not None:
            self._timer.cancel()
        self._timer_at = at
        self._timer = self.loop.call_at(at, self._on_timer) if at is not None else None

    def _on_timer(self) -> None:
        self._timer = self._timer_at = None
        self.node.on_timer(self.loop.time())
        self.flush()

    # --- requests ------------------------------------------------------------------------------------------
    def _dispatch(self, effect: RequestReceived) -> None:
        request = effect.message
        route = self.dispatch.route(request.application_id, request.command_code)
        assert route is not None  # the node only passes requests the dispatch table handles
        started = time.perf_counter()
        if self.trace is not None:
            self.trace.request(effect.peer, "in", request, route.app_name)
            self._traced[effect.token] = (effect.peer, request)
        result = self.dispatch.start(route, request, Context(effect.peer, effect.realm, effect.conn_id,
                                                             self.request))
        if isinstance(result, Message):
            self._answer(effect.token, route, started, result)
            return
        task = self.loop.create_task(self._finish(effect.token, route, started, request, result))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _finish(self, token: int, route: Route, started: float, request: Message,
                      pending: Awaitable[Message]) -> None:
        try:
            answer = await pending
        except Exception as e:  # the dispatch turns every error into an answer
            answer = self.dispatch.refusal(route, request, e)
        self._answer(token, route, started, answer)
        # answers that complete in the same event-loop turn (e.g. a pipeline of Redis replies) leave together
        if not self._flush_soon:
            self._flush_soon = True
            self.loop.call_soon(self._deferred_flush)

    def _deferred_flush(self) -> None:
        self._flush_soon = False
        self.flush()

    def _answer(self, token: int, route: Route, started: float, answer: Message) -> None:
        self.node.send_answer(token, answer, self.loop.time())
        result = result_of(answer)
        code, vendor = (str(result[0]), str(result[1])) if result is not None else ("none", "0")
        metrics.diameter_requests_total.inc((route.app_name, route.command_name, code, vendor))
        seconds = time.perf_counter() - started
        metrics.diameter_request_seconds.observe((route.app_name, route.command_name), seconds)
        if self.trace is not None:
            peer, request = self._traced.pop(token, ("?", None))
            self.trace.answer(peer, "out", answer, seconds, route.app_name, request)


def _report(event: str, route: Route, error: BaseException) -> None:
    """What the dispatch reports: a handler's unexpected error (5012) with its traceback. Transient errors (a
    store down) are logged once per outage by the store guard (ocs.store.guard), not per request."""
    if event == "handler-failed":
        log.error("handler-failed", application=route.app_name, command=route.command_name, exc_info=error)
