"""Handlers by (application id, command code): the daemon routes each accepted request to one of them.

A handler takes the request and returns the answer, or an awaitable of it (those that call Redis). It raises
`DiameterError` to refuse a request; the transport turns that into the error answer (RFC 6733 §7.2).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass

from ocs.diameter.capabilities import Application
from ocs.diameter.message import Message

Handler = Callable[[Message], "Message | Awaitable[Message]"]


@dataclass(frozen=True, slots=True)
class Route:
    application: Application
    command_code: int
    handler: Handler
    app_name: str        # metrics label, e.g. "gy"
    command_name: str    # metrics label, e.g. "CCR"


class Registry:
    def __init__(self) -> None:
        self._routes: dict[tuple[int, int], Route] = {}

    def register(self, application: Application, command_code: int, handler: Handler, app_name: str,
                 command_name: str) -> None:
        key = (application.app_id, command_code)
        if key in self._routes:
            raise ValueError(f"a handler for application {application.app_id} command {command_code} exists")
        self._routes[key] = Route(application, command_code, handler, app_name, command_name)

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
