"""A store guard for a hot path: `StoreGuard`'s errors, outage log and metrics, with the time bound enforced by
one sweeping timer for every call in flight instead of one timer per call.

`asyncio.timeout` arms a TimerHandle on the loop's heap and cancels it for each call, which costs the Gy hot
path more than its own decisions (profiled, issue 9 point 6). Here a call only records its task and deadline;
one timer, armed while calls are in flight, wakes every `timeout / 4` and cancels the tasks past their deadline,
which then fail as a timeout exactly like under `asyncio.timeout` (the cancellation is taken back with
`Task.uncancel`, so a cancellation from elsewhere, e.g. shutdown, still propagates). A call is thus bounded by at
most 1.25 x `timeout`. The timeout is the same for every call, so deadlines come in increasing order and the
sweep stops at the first one not yet due.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from ocs.metrics import store_call_seconds
from ocs.store.guard import TRANSIENT, TRANSIENT_REPLIES, StoreGuard, log
from ocs.store.redis_client import ReplyError

T = TypeVar("T")


class SweptStoreGuard(StoreGuard):
    def __init__(self, store: str, timeout: float) -> None:
        super().__init__(store, timeout)
        self._calls: dict[asyncio.Task[Any], float] = {}  # task -> deadline (monotonic), oldest first
        self._expired: set[asyncio.Task[Any]] = set()
        self._timer: asyncio.TimerHandle | None = None

    async def call(self, fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
        task = asyncio.current_task()
        if task is None or task in self._calls:  # not in a task, or a nested call: the ordinary guard
            return await super().call(fn, *args, **kwargs)
        started = time.perf_counter()
        cancelling = task.cancelling()
        self._calls[task] = time.monotonic() + self.timeout
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.timeout / 4, self._sweep)
        try:
            result = await fn(*args, **kwargs)
        except asyncio.CancelledError:
            if task in self._expired:
                self._expired.discard(task)
                if task.uncancel() <= cancelling:  # ours alone: the store did not answer in time
                    raise self._failed(TimeoutError()) from None
            raise
        except TRANSIENT as e:
            raise self._failed(e) from None
        except ReplyError as e:
            if not str(e).startswith(TRANSIENT_REPLIES):
                raise
            raise self._failed(e) from None
        finally:
            self._calls.pop(task, None)
            self._expired.discard(task)
            store_call_seconds.observe(self._labels, time.perf_counter() - started)
        if self.failures:
            log.info("store-recovered", store=self.store, failed_calls=self.failures,
                     seconds=round(time.monotonic() - self._down_since, 3))
            self.failures = 0
        return result

    def _sweep(self) -> None:
        self._timer = None
        calls = self._calls
        now = time.monotonic()
        while calls:
            task, deadline = next(iter(calls.items()))
            if deadline > now:
                break
            del calls[task]
            if not task.done():
                self._expired.add(task)
                task.cancel()
        if calls:
            self._timer = asyncio.get_running_loop().call_later(self.timeout / 4, self._sweep)


__all__ = ["SweptStoreGuard"]
