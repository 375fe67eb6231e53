"""Idempotency-Key on the POSTs that move money (issue 16 point 4; the header of the IETF httpapi draft
"The Idempotency-Key HTTP Header Field").

A key is remembered in Redis for KEY_TTL with the fingerprint (SHA-256) of the request — method, path, body —
and, once answered, the first answer. A repeat with the same key and body gets that first answer and changes
nothing; the same key with another body is 422 (`idempotency_key_reused`). Repeats racing the first request
are safe because the key also becomes the operation's ledger `ref` (ocs.services.charging is idempotent by
ref inside its Lua script): however many arrive at once, the money moves once, and every one of them answers
with the first stored answer. Within one daemon, repeats that arrive while the first is still running wait for
its answer (no race to store a `duplicate: true` answer first).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

from ocs.admin.problems import ApiError
from ocs.store.redis_client import RedisStore

KEY_TTL = 86400  # seconds a key is remembered
MAX_KEY = 128


class Idempotency:
    """Keys in Redis through the store's AutoPipeline: the commands of every request of an event-loop turn go
    out in one write (no redis-py pipeline object per request), and the first answer is kept and replayed as
    its JSON text (no decode and re-encode)."""

    def __init__(self, store: RedisStore) -> None:
        self.store = store
        # (who, key) -> (fingerprint, the first request's answer): repeats arriving while the first is running
        # in this process wait for its answer instead of racing it (the Redis record covers other processes)
        self._running: dict[str, tuple[str, asyncio.Future[str]]] = {}

    def _key(self, who: str, key: str) -> str:
        return f"{self.store.prefix}:admin:idem:{who}:{key}"

    async def run(self, who: str, key: str, fingerprint: bytes,
                  answer: Callable[[], Awaitable[dict[str, Any]]]) -> str:
        """The stored first answer (JSON text) for (who, key), or `answer()` stored as the first one."""
        if not key or len(key) > MAX_KEY or not key.isprintable():
            raise ApiError(422, "invalid_request", "Idempotency-Key: 1 to 128 printable characters")
        name, digest = self._key(who, key), hashlib.sha256(fingerprint).hexdigest()
        running = self._running.get(name)
        if running is not None:
            if running[0] != digest:
                raise ApiError(422, "idempotency_key_reused", "this Idempotency-Key was used with another request")
            return await asyncio.shield(running[1])
        first: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self._running[name] = (digest, first)
        try:
            text = await self._run(name, digest, answer)
        except BaseException as e:
            first.set_exception(e)
            first.exception()  # retrieved: waiters (if any) get it too
            raise
        finally:
            del self._running[name]
        first.set_result(text)
        return text

    async def _run(self, name: str, digest: str, answer: Callable[[], Awaitable[dict[str, Any]]]) -> str:
        p = self.store.pipeline  # in order on one connection: the three go out together
        _, _, stored = await asyncio.gather(p.call("HSETNX", name, "fingerprint", digest),
                                            p.call("EXPIRE", name, KEY_TTL, "NX"),
                                            p.call("HMGET", name, "fingerprint", "answer"))
        if stored[0] != digest:
            raise ApiError(422, "idempotency_key_reused", "this Idempotency-Key was used with another request")
        if stored[1] is not None:
            return str(stored[1])
        result = json.dumps(await answer(), separators=(",", ":"))
        _, first = await asyncio.gather(p.call("HSETNX", name, "answer", result), p.call("HGET", name, "answer"))
        return str(first) if first is not None else result


def ref_for(key: str | None, ref: str | None) -> str:
    """The ledger ref of a money operation: the body's `ref`, else the Idempotency-Key; one of them is needed."""
    if ref:
        return ref
    if key:
        return f"idem:{key}"[:128]
    raise ApiError(422, "invalid_request", "give an Idempotency-Key header or a `ref` in the body")


__all__ = ["KEY_TTL", "Idempotency", "ref_for"]
