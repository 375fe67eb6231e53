"""A slow or dead store is a transient failure, quickly (issue 14 point 3).

`StoreGuard.call` bounds a store call on the request path by the configured timeout (`[redis] timeout`,
`[postgres] timeout`) and turns a store that is down, hung or too slow into `StoreUnavailable`, which the
applications' error table answers with a transient code (3004 DIAMETER_TOO_BUSY, S6a AIR 4181) instead of
5012. An outage is logged once when it starts (`store-unavailable`) and once when the store answers again
(`store-recovered`, with the number of calls that failed and how long it lasted), never per request.

The bound costs no timer per call (issue 15): `asyncio.timeout` makes a Timeout, a TimerHandle and asks for
the running loop (a getpid() system call on Python 3.11) on every call, ~10% of the daemon's CPU at 10k AIR/s.
Here calls whose deadlines fall in the same slice of time (a tenth of the timeout, at most 50 ms) share one
timer; when it fires, the calls of that slice still running are cancelled and raise TimeoutError, as
`asyncio.timeout` does (the cancellation is taken back with `Task.uncancel`, so a cancellation from elsewhere
still propagates). A call is thus bounded by the timeout plus at most one slice.
"""

from __future__ import annotations

import asyncio
import math
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


class _Watch:
    """One guarded call: its task, the task's cancellation count when it began, and what became of it."""

    __slots__ = ("task", "cancelling", "expired", "done")

    def __init__(self, task: asyncio.Task[Any], cancelling: int) -> None:
        self.task = task
        self.cancelling = cancelling
        self.expired = False
        self.done = False


class StoreGuard:
    def __init__(self, store: str, timeout: float) -> None:
        self.store = store
        self.timeout = timeout
        self.failures = 0  # calls failed in the current outage; 0 when the store is up
        self._labels = (store,)
        self._down_since = 0.0
        self._slice = max(0.001, min(0.05, timeout / 10))  # seconds; deadlines are rounded up to a slice
        self._slices: dict[int, list[_Watch]] = {}  # slice number -> the calls due in it
        self._loop: asyncio.AbstractEventLoop | None = None

    async def call(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        started = time.perf_counter()
        try:
            watch = self._watch()
            if watch is None:  # not inside a task (never on the request path): the plain bound
                async with asyncio.timeout(self.timeout):
                    result = await fn(*args, **kwargs)
            else:
                try:
                    result = await fn(*args, **kwargs)
                except asyncio.CancelledError:
                    if watch.expired and watch.task.uncancel() <= watch.cancelling:
                        raise TimeoutError(f"{self.store} call took more than {self.timeout} s") from None
                    raise
                finally:
                    watch.done = True
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

    # --- the bound: one timer per slice of deadlines ------------------------------------------------------------
    def _watch(self) -> _Watch | None:
        loop = self._loop
        if loop is None or not loop.is_running():  # the loop is taken once, not per call (module docstring)
            loop = self._loop = asyncio.get_running_loop()
            self._slices.clear()
        task = asyncio.current_task(loop)  # with the loop given: no getpid()
        if task is None:
            return None
        watch = _Watch(task, task.cancelling())
        due = math.ceil((loop.time() + self.timeout) / self._slice)
        watches = self._slices.get(due)
        if watches is None:
            watches = self._slices[due] = []
            loop.call_at(due * self._slice, self._expire, due)
        watches.append(watch)
        return watch

    def _expire(self, due: int) -> None:
        for watch in self._slices.pop(due, ()):
            if not watch.done:
                watch.expired = True
                watch.task.cancel()

    def _failed(self, error: BaseException) -> StoreUnavailable:
        detail = str(error) or ("timed out" if isinstance(error, TimeoutError) else type(error).__name__)
        if not self.failures:
            self._down_since = time.monotonic()
            log.warning("store-unavailable", store=self.store, error=detail, error_type=type(error).__name__,
                        timeout=self.timeout)
        self.failures += 1
        return StoreUnavailable(self.store, detail)


__all__ = ["TRANSIENT", "StoreGuard"]
