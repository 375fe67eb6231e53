"""The real daemon with one test application: credit control (app 4) answered 2001 without touching a store.

Used by the end-to-end tests and the throughput benchmark as the "trivial handler"; run as
`python -m tests.support.echo_daemon -c FILE`. With `OCSD_ECHO_DELAY=SECONDS` in the environment each answer
is given by a coroutine after that delay, so that requests stay in flight (the graceful-stop test).
"""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import Awaitable, Callable

from ocs.apps.registry import Registry
from ocs.diameter import avp
from ocs.diameter.capabilities import Application
from ocs.diameter.codes import (
    APP_CREDIT_CONTROL,
    AUTH_APPLICATION_ID,
    CMD_CREDIT_CONTROL,
    ORIGIN_HOST,
    ORIGIN_REALM,
    RESULT_CODE,
    SESSION_ID,
)
from ocs.diameter.message import Message

CC_REQUEST_TYPE, CC_REQUEST_NUMBER = 416, 415


def echo_registry(origin_host: str, origin_realm: str, delay: float = 0.0) -> Registry:
    fixed = [avp.utf8(ORIGIN_HOST, origin_host), avp.utf8(ORIGIN_REALM, origin_realm),
             avp.u32(AUTH_APPLICATION_ID, APP_CREDIT_CONTROL), avp.u32(RESULT_CODE, 2001)]

    def answer_ccr(request: Message) -> Message:
        out = [a for a in request.avps if a.code in (SESSION_ID, CC_REQUEST_TYPE, CC_REQUEST_NUMBER)]
        return request.answer(out[:1] + fixed + out[1:])

    async def answer_later(request: Message) -> Message:
        await asyncio.sleep(delay)
        return answer_ccr(request)

    handler: Callable[[Message], Message | Awaitable[Message]] = answer_later if delay else answer_ccr
    registry = Registry()
    registry.register(Application(APP_CREDIT_CONTROL), CMD_CREDIT_CONTROL, handler, "echo", "CCR")
    return registry


def main(argv: list[str]) -> None:
    import uvloop

    from ocs.config import load_config
    from ocs.daemon import Daemon
    from ocs.logs import configure_logging

    config = load_config(argv[argv.index("-c") + 1])
    configure_logging(config.log.level, config.log.format)
    registry = echo_registry(config.node.origin_host, config.node.origin_realm,
                             float(os.environ.get("OCSD_ECHO_DELAY", "0")))
    uvloop.run(Daemon(config, registry).run())


if __name__ == "__main__":
    main(sys.argv)
