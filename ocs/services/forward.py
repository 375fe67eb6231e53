"""Requests of ours for a Diameter peer connected to another process (issue 19): a handler's `ctx.request(msg,
to=peer)` (S6a's CLR to the previous MME, any RAR/ASR sent from a request) works whichever worker or host holds
that peer's connection.

Theory of operation: every process records the peers whose connection it holds in one hash, `<p>:fwd:{fwd}:peers`
(peer Origin-Host -> owner id, set at peer-up, removed at peer-down if still its own). `Forwarder.send` first
tries the local connection; when the peer is not open here it looks the owner up and appends the request
(encoded, hex) to the owner's inbox stream `<p>:fwd:{fwd}:in:<owner>`, then awaits the answer that the owner
appends to the caller's reply stream `<p>:fwd:{fwd}:out:<caller>`. One reader task per process blocks on
XREAD over its two streams (no polling); all keys share the `{fwd}` tag, so on a Redis Cluster they live in one
slot and one XREAD reads both. No owner, an owner that does not hold the peer (any more) or one that does not
answer in `timeout` give the caller ConnectionError or TimeoutError, as a local send would.

The broadcast notifications (ocs/services/gy_notify.py: RAR after a top-up, ASR from `ocsd session terminate`)
need none of this: every process reads them and the one holding the peer sends.
"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from ocs.diameter.message import Message
from ocs.metrics import forwarded_requests_total
from ocs.store.redis_client import RedisStore, ReplyError

log = structlog.get_logger("ocs.forward")

Send = Callable[[str, Message], Awaitable[Message]]
MAXLEN = 1000
FORGET = """if redis.call('HGET', KEYS[1], ARGV[1]) == ARGV[2] then return redis.call('HDEL', KEYS[1], ARGV[1]) end
return 0"""
ERRORS = (OSError, ConnectionError, ReplyError)


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


class Forwarder:
    def __init__(self, store: RedisStore, owner: str, local: Send, timeout: float = 10.0,
                 block_ms: int = 1000) -> None:
        self.store, self.owner, self.local, self.timeout, self.block_ms = store, owner, local, timeout, block_ms
        base = f"{store.prefix}:fwd:{{fwd}}"
        self.peers_key = f"{base}:peers"
        self.base = base
        self.inbox = f"{base}:in:{owner}"
        self.replies = f"{base}:out:{owner}"
        self._redis = store.connection()  # own connection: the blocking XREAD must not stall scripts
        self._pending: dict[str, asyncio.Future[tuple[str, str]]] = {}
        self._task: asyncio.Task[None] | None = None
        self._work: set[asyncio.Future[Any]] = set()

    # --- the peers of this process
    def peer_changed(self, peer: str, up: bool) -> None:
        """Called by the transport at peer-up / peer-down (no await there: the write is a task)."""
        p = self.store.pipeline
        call = (p.call("HSET", self.peers_key, peer, self.owner) if up
                else p.call("EVAL", FORGET, 1, self.peers_key, peer, self.owner))
        self._spawn(self._quiet(call, "forward-register-failed", peer))

    async def _quiet(self, call: Awaitable[Any], event: str, peer: str) -> None:
        try:
            await call
        except ERRORS as e:
            log.warning(event, peer=peer, error=str(e) or type(e).__name__)

    def _spawn(self, work: Awaitable[Any]) -> None:
        task: asyncio.Future[Any] = asyncio.ensure_future(work)
        self._work.add(task)
        task.add_done_callback(self._work.discard)

    # --- the caller's side
    async def send(self, peer: str, message: Message) -> Message:
        try:
            return await self.local(peer, message)
        except ConnectionError:
            owner = await self.store.pipeline.call("HGET", self.peers_key, peer)
            if owner is None or owner == self.owner:
                raise
        request_id = secrets.token_hex(8)
        future: asyncio.Future[tuple[str, str]] = asyncio.get_running_loop().create_future()
        self._pending[request_id] = future
        try:
            await self.store.pipeline.call("XADD", f"{self.base}:in:{owner}", "MAXLEN", "~", MAXLEN, "*",
                                           "id", request_id, "peer", peer, "reply", self.replies,
                                           "msg", message.encode().hex())
            async with asyncio.timeout(self.timeout):
                status, body = await future
        except TimeoutError:
            forwarded_requests_total.labels("timeout").inc()
            raise TimeoutError(f"no answer from peer {peer} through {owner}") from None
        finally:
            self._pending.pop(request_id, None)
        if status != "ok":
            forwarded_requests_total.labels("refused").inc()
            raise ConnectionError(f"peer {peer} through {owner}: {body}")
        forwarded_requests_total.labels("answered").inc()
        return Message.decode(bytes.fromhex(body))

    # --- the owner's side and the replies
    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run(), name="forwarder")

    async def run(self) -> None:
        last = {self.inbox: "$", self.replies: "$"}
        while True:
            try:
                reply = await self._redis.call("XREAD", "BLOCK", self.block_ms, "STREAMS", self.inbox, self.replies,
                                               last[self.inbox], last[self.replies])
            except ERRORS as e:
                log.warning("forward-read-failed", error=str(e) or type(e).__name__)
                await asyncio.sleep(1)
                continue
            for stream, entries in reply or ():
                for entry_id, raw in entries:
                    last[_s(stream)] = _s(entry_id)
                    f = {_s(raw[i]): _s(raw[i + 1]) for i in range(0, len(raw), 2)}
                    if _s(stream) == self.inbox:
                        self._spawn(self._serve(f))
                    else:
                        future = self._pending.get(f.get("id", ""))
                        if future is not None and not future.done():
                            future.set_result((f.get("status", ""), f.get("body", "")))

    async def _serve(self, f: dict[str, str]) -> None:
        """Send a forwarded request over our connection; the answer (or why not) to the caller's stream."""
        try:
            answer = await self.local(f["peer"], Message.decode(bytes.fromhex(f["msg"])))
            status, body = "ok", answer.encode().hex()
        except (ConnectionError, TimeoutError, ValueError) as e:
            status, body = "error", str(e) or type(e).__name__
        log.info("forwarded-request", peer=f["peer"], status=status)
        await self._quiet(self.store.pipeline.call("XADD", f["reply"], "MAXLEN", "~", MAXLEN, "*", "id", f["id"],
                                                   "status", status, "body", body),
                          "forward-reply-failed", f["peer"])

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        if self._work:  # the last peer-down registrations
            await asyncio.wait(list(self._work), timeout=1.0)
        for t in list(self._work):
            t.cancel()
        await self._redis.close()


__all__ = ["Forwarder"]
