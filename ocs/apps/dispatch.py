"""One dispatch for every protocol: `(application id, command code) -> handler`, the context a handler gets,
and how an error raised by a handler becomes an answer (issue 12 point 3, DESIGN §2b).

Theory of operation. The daemon adds each enabled application (one line each); the transport calls
`dispatch(route, request, ctx)` for every request the node accepted. A handler is a decision: it returns the
answer, or an awaitable of it (when it calls a store). What it raises is turned into an answer here, in one
place (h2/aioquic style): a `DiameterError` as the application's refusal; a domain error through the table of
`ocs.apps.errors` and then the application's refusal (S6a: Experimental-Result + Auth-Session-State;
credit control: Result-Code with CC-Request-Type/Number echoed); a transient one (a store down or slow) as a
transient answer (the store guard logs an outage once, not per request); anything else as 5012
DIAMETER_UNABLE_TO_COMPLY and a `report` (the transport logs it).
Pure: no asyncio here; the transport creates the tasks.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import NamedTuple, Protocol

from ocs.apps.errors import RADIUS, SILENT_DROP, result_for
from ocs.charging.errors import ChargingError
from ocs.diameter.answers import error_answer
from ocs.diameter.capabilities import Application
from ocs.diameter.codes import DIAMETER_UNABLE_TO_COMPLY
from ocs.diameter.errors import DiameterError
from ocs.diameter.message import Message
from ocs.subscribers.errors import DomainError
from radius.packets import ACCESS_REJECT, ACCESS_REQUEST, CODE_NAMES, RadiusReply, RadiusRequest

Send = Callable[[str, Message], Awaitable[Message]]


class Context(NamedTuple):
    """Who sent a request: the peer's CER Origin-Host and Origin-Realm and its connection; and a way to send
    that peer (or another open peer, `to=`) a request of ours (CLR now; RAR, ASR later) and await the answer.
    `request` raises ConnectionError when the peer is not open, TimeoutError when it does not answer.
    A named tuple (immutable): one is made per request, at half the cost of a frozen dataclass (issue 15)."""

    peer: str
    realm: str
    conn_id: int
    send: Send

    def request(self, message: Message, to: str | None = None) -> Awaitable[Message]:
        return self.send(self.peer if to is None else to, message)


Answer = Message | Awaitable[Message]
Handler = Callable[[Message, Context], Answer]


class DiameterApplication(Protocol):
    """An application: its name (the error table's key and the metrics label), what it advertises in the CER,
    its commands, and how a refusal becomes its answer. `cause` is the domain error behind `error`, if any."""

    name: str
    application: Application

    def routes(self) -> Iterable[tuple[int, str, Handler]]: ...  # (command code, command name, handler)

    def refuse(self, request: Message, error: DiameterError, cause: Exception | None) -> Message: ...


class BaseRefusal:
    """The base protocol's error answer (RFC 6733 §7.2), for applications that add nothing to it."""

    def __init__(self, origin_host: str, origin_realm: str) -> None:
        self.origin_host = origin_host
        self.origin_realm = origin_realm

    def refuse(self, request: Message, error: DiameterError, cause: Exception | None) -> Message:
        return error_answer(request, self.origin_host, self.origin_realm, error)


@dataclass(frozen=True, slots=True)
class Route:
    application: Application
    command_code: int
    handler: Handler
    app_name: str        # metrics label and error-table key, e.g. "s6a"
    command_name: str    # metrics label, e.g. "AIR"
    refuse: Callable[[Message, DiameterError, Exception | None], Message]


Report = Callable[[str, Route, BaseException], None]  # (event, route, error): "handler-failed", "transient"


class Dispatch:
    """The table, and the one place where a handler's outcome becomes an answer."""

    def __init__(self, origin_host: str, origin_realm: str, report: Report | None = None) -> None:
        self._routes: dict[tuple[int, int], Route] = {}
        self.report = report
        self._base = BaseRefusal(origin_host, origin_realm)

    # --- the table -----------------------------------------------------------------------------------------
    def add(self, app: DiameterApplication) -> None:
        for code, command_name, handler in app.routes():
            self.register(app.application, code, handler, app.name, command_name, app.refuse)

    def register(self, application: Application, command_code: int, handler: Handler, app_name: str,
                 command_name: str,
                 refuse: Callable[[Message, DiameterError, Exception | None], Message] | None = None) -> None:
        key = (application.app_id, command_code)
        if key in self._routes:
            raise ValueError(f"a handler for application {application.app_id} command {command_code} exists")
        if refuse is None:
            refuse = self._base.refuse
        self._routes[key] = Route(application, command_code, handler, app_name, command_name, refuse)

    def route(self, app_id: int, command_code: int) -> Route | None:
        return self._routes.get((app_id, command_code))

    def __iter__(self) -> Iterator[Route]:
        return iter(self._routes.values())

    @property
    def applications(self) -> tuple[Application, ...]:
        seen: dict[int, Application] = {}
        for r in self._routes.values():
            seen.setdefault(r.application.app_id, r.application)
        return tuple(seen.values())

    @property
    def commands(self) -> frozenset[tuple[int, int]]:
        return frozenset(self._routes)

    # --- requests ------------------------------------------------------------------------------------------
    def dispatch(self, route: Route, request: Message, ctx: Context) -> Answer:
        """The answer now (a plain handler, or a refusal), or an awaitable of it that never raises."""
        try:
            result = route.handler(request, ctx)
        except Exception as e:
            return self.refusal(route, request, e)
        if isinstance(result, Message):
            return result
        return self._finish(route, request, result)

    async def _finish(self, route: Route, request: Message, pending: Awaitable[Message]) -> Message:
        try:
            return await pending
        except Exception as e:
            return self.refusal(route, request, e)

    def start(self, route: Route, request: Message, ctx: Context) -> Answer:
        """`dispatch` for a caller that awaits the handler's awaitable itself (the transport, in the task it makes
        anyway: one coroutine frame less per request): the answer now (a plain handler, or a refusal), or the
        handler's own awaitable, whose error the caller turns into an answer with `refusal`."""
        try:
            return route.handler(request, ctx)
        except Exception as e:
            return self.refusal(route, request, e)

    def refusal(self, route: Route, request: Message, error: Exception) -> Message:
        """RFC 6733 §7: the answer to a request whose handler raised `error`."""
        if isinstance(error, DiameterError):
            return route.refuse(request, error, None)
        if isinstance(error, (DomainError, ChargingError)):
            result = result_for(error, route.app_name, route.command_name)
            if result is not None:
                if getattr(error, "transient", False) and self.report is not None:
                    self.report("transient", route, error)
                return route.refuse(request, DiameterError(result.code, vendor_id=result.vendor_id), error)
        if self.report is not None:
            self.report("handler-failed", route, error)
        return route.refuse(request, DiameterError(DIAMETER_UNABLE_TO_COMPLY, "internal error"), error)


# --- RADIUS: the same idea over a table of packet codes (issue 11) -------------------------------------------


@dataclass(frozen=True, slots=True)
class RadiusContext:
    """Who sent a RADIUS request: the configured client (its name labels metrics and sessions), the source
    address and port; `send` sends a Disconnect/CoA request of ours to a client by name and awaits the outcome."""

    client: str
    address: str
    port: int
    send: Callable[..., Awaitable[str]] | None = None


RadiusAnswer = RadiusReply | None  # None: no reply (a silent drop, the NAS retransmits)
RadiusHandler = Callable[[RadiusRequest, RadiusContext], RadiusAnswer | Awaitable[RadiusAnswer]]


@dataclass(frozen=True, slots=True)
class RadiusRoute:
    code: int
    handler: RadiusHandler
    command_name: str  # "Access-Request", "Accounting-Request": metrics label and error-table command


RadiusReport = Callable[[str, RadiusRoute, BaseException], None]


class RadiusDispatch:
    """`packet code -> handler`; a handler's error becomes an answer through `ocs.apps.errors` (RADIUS rows):
    an Access-Reject with a Reply-Message a person can read, or a silent drop (no Accounting-Response)."""

    app_name = RADIUS

    def __init__(self, report: RadiusReport | None = None) -> None:
        self._routes: dict[int, RadiusRoute] = {}
        self.report = report

    def register(self, code: int, handler: RadiusHandler) -> None:
        if code in self._routes:
            raise ValueError(f"a handler for RADIUS code {code} exists")
        self._routes[code] = RadiusRoute(code, handler, CODE_NAMES.get(code, str(code)))

    def route(self, code: int) -> RadiusRoute | None:
        return self._routes.get(code)

    def dispatch(self, route: RadiusRoute, request: RadiusRequest,
                 ctx: RadiusContext) -> RadiusAnswer | Awaitable[RadiusAnswer]:
        try:
            result = route.handler(request, ctx)
        except Exception as e:
            return self.refusal(route, e)
        if result is None or isinstance(result, RadiusReply):
            return result
        return self._finish(route, result)

    async def _finish(self, route: RadiusRoute, pending: Awaitable[RadiusAnswer]) -> RadiusAnswer:
        try:
            return await pending
        except Exception as e:
            return self.refusal(route, e)

    def refusal(self, route: RadiusRoute, error: Exception) -> RadiusAnswer:
        result = None
        if isinstance(error, (DomainError, ChargingError)):
            result = result_for(error, RADIUS, route.command_name)
            if result is not None and getattr(error, "transient", False) and self.report is not None:
                self.report("transient", route, error)
        elif self.report is not None:
            self.report("handler-failed", route, error)
        if result is None or result.code == SILENT_DROP or route.code != ACCESS_REQUEST:
            return None  # RFC 2866 §2: no Accounting-Response unless the packet was recorded
        return RadiusReply(ACCESS_REJECT, (("Reply-Message", result.message),) if result.message else ())


__all__ = ["Answer", "BaseRefusal", "Context", "DiameterApplication", "Dispatch", "Handler", "RadiusContext",
           "RadiusDispatch", "RadiusHandler", "RadiusRoute", "Route", "Send"]
