"""A slow or dead store is a transient failure, quickly (issue 14 point 3).

`StoreGuard.call` bounds a store call on the request path by the configured timeout (`[redis] timeout`,
`[postgres] timeout`) and turns a store that is down, hung or too slow into `StoreUnavailable`, which the
applications' error table answers with a transient code (3004 DIAMETER_TOO_BUSY, S6a AIR 4181) instead of
5012. An outage is logged once when it starts (`store-unavailable`) and once when the store answers again
(`store-recovered`, with the number of calls that failed and how long it lasted), never per request.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import asyncpg
import redis.exceptions
import structlog

from ocs.metrics import store_call_seconds
from ocs.store.redis_client import ReplyError
from ocs.subscribers.errors import StoreUnavailable

log = structlog.get_logger("ocs.store")

T = TypeVar("T")

# Errors that say "the store cannot answer now" (not "the request is wrong"). OSError covers TimeoutError and
# ConnectionError (our auto-pipeline's and the sockets'); the rest are the clients' own.
TRANSIENT: tuple[type[BaseException], ...] = (
    OSError, redis.exceptions.ConnectionError, redis.exceptions.TimeoutError, asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError, asyncpg.CannotConnectNowError, asyncpg.TooManyConnectionsError,
    asyncpg.QueryCanceledError,
)
# Redis error replies of a server that is starting, busy with a script, or without its master
TRANSIENT_REPLIES = ("LOADING", "BUSY", "MASTERDOWN", "TRYAGAIN", "CLUSTERDOWN")


class StoreGuard:
    def __init__(self, store: str, timeout: float) -> None:
        self.store = store
        self.timeout = timeout
        self.failures = 0  # calls failed in the current outage; 0 when the store is up
        self._labels = (store,)
        self._down_since = 0.0

    async def call(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        started = time.perf_counter()
        try:
            async with asyncio.timeout(self.timeout):
                result = await fn(*args, **kwargs)
        except TRANSIENT as e:
            raise self._failed(e) from None
        except ReplyError as e:
            if not str(e).startswith(TRANSIENT_REPLIES):
                raise
            raise self._failed(e) from None
        finally:
            store_call_seconds.observe(self._labels, time.perf_counter() - started)
        if self.failures:
            log.info("store-recovered", store=self.store, failed_calls=self.failures,
                     seconds=round(time.monotonic() - self._down_since, 3))
            self.failures = 0
        return result

    def _failed(self, error: BaseException) -> StoreUnavailable:
        detail = str(error) or ("timed out" if isinstance(error, TimeoutError) else type(error).__name__)
        if not self.failures:
            self._down_since = time.monotonic()
            log.warning("store-unavailable", store=self.store, error=detail, error_type=type(error).__name__,
                        timeout=self.timeout)
        self.failures += 1
        return StoreUnavailable(self.store, detail)


__all__ = ["TRANSIENT", "StoreGuard"]
