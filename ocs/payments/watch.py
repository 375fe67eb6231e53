"""Who is watching a payment (the portal's live status): every change of its row is handed to the watchers'
queues, from this process at once and from any other ocsd process through PostgreSQL's NOTIFY on channel
`ocsd_payment` (the trigger of migration 011). One LISTEN connection serves every watcher; it is taken from
the pool at the first watch and given back at close."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

import asyncpg

from ocs.payments.store import Payment, PaymentStore

CHANNEL = "ocsd_payment"


class Watchers:
    def __init__(self, store: PaymentStore) -> None:
        self.store = store
        self._queues: dict[str, set[asyncio.Queue[Payment]]] = {}
        self._listener: asyncpg.Connection | None = None
        self._lock = asyncio.Lock()
        self._reloads: set[asyncio.Task[None]] = set()

    def publish(self, p: Payment) -> None:
        for q in self._queues.get(p.id, ()):
            q.put_nowait(p)

    def _notified(self, _conn: object, _pid: int, _channel: str, payment_id: str) -> None:
        if payment_id in self._queues:
            task = asyncio.create_task(self._reload(payment_id))
            self._reloads.add(task)
            task.add_done_callback(self._reloads.discard)

    async def _reload(self, payment_id: str) -> None:
        with contextlib.suppress(Exception):  # PostgreSQL down: the stream shows the next change it hears of
            p = await self.store.get(payment_id)
            if p is not None:
                self.publish(p)

    async def _listen(self) -> None:
        async with self._lock:
            if self._listener is None or self._listener.is_closed():
                self._listener = await self.store.pool.acquire()
                await self._listener.add_listener(CHANNEL, self._notified)

    @contextlib.asynccontextmanager
    async def watch(self, payment_id: str) -> AsyncIterator[asyncio.Queue[Payment]]:
        await self._listen()
        q: asyncio.Queue[Payment] = asyncio.Queue()
        self._queues.setdefault(payment_id, set()).add(q)
        try:
            yield q
        finally:
            queues = self._queues.get(payment_id, set())
            queues.discard(q)
            if not queues:
                self._queues.pop(payment_id, None)

    async def close(self) -> None:
        if self._listener is not None:
            with contextlib.suppress(Exception):  # PostgreSQL gone: the connection goes with the pool
                await self._listener.remove_listener(CHANNEL, self._notified)
                await self.store.pool.release(self._listener)
            self._listener = None


__all__ = ["CHANNEL", "Watchers"]
