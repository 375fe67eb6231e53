"""Run a coroutine to completion from synchronous test code (fixtures of tests that are not async)."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run_sync(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)
