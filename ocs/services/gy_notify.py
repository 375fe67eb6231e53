"""Server-initiated Gy requests (issue 9 point 5): other processes (the CLI's top-up, purchase, `ocsd session
terminate`) tell the running daemon through a Redis stream, `<p>:gynotify`, which every daemon reads.

- `reauth` (account): after a top-up or a bundle purchase, each live session of the account whose last CCR got a
  final grant or a 4012 is sent a RAR (AUTHORIZE_ONLY) over the connection of the peer that owns it; the RAA's
  result is logged and counted (`ocsd_gy_server_requests_total`).
- `abort` (session, reply key): an ASR to the session's owning peer; the ASA's Result-Code is pushed to the
  reply key, where the CLI waits for it (BLPOP).
A daemon that does not hold the owning peer's connection skips the entry (another daemon sharing Redis does).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Awaitable, Callable
from typing import Any

import structlog

from ocs.apps.gy_server import make_asr, make_rar
from ocs.diameter.dictionary import Dictionary
from ocs.diameter.message import Message
from ocs.metrics import gy_server_requests_total
from ocs.store.gy_redis import GyRedis
from ocs.store.redis_client import RedisStore

log = structlog.get_logger("ocs.gy")

MAXLEN = 10_000  # notifications kept in the stream (each daemon reads them as they come)
REPLY_TTL = 60


def notify_key(store: RedisStore) -> str:
    return f"{store.prefix}:gynotify"


async def notify(store: RedisStore, **fields: str) -> None:
    args: list[Any] = ["XADD", notify_key(store), "MAXLEN", "~", MAXLEN, "*"]
    for k, v in fields.items():
        args += [k, v]
    await store.pipeline.call(*args)


async def notify_reauth(store: RedisStore, account: str) -> None:
    """Credit arrived on `account` (top-up, purchase, gift): its sessions out of credit are re-authorized."""
    await notify(store, kind="reauth", account=account)


Send = Callable[[str, Message], Awaitable[Message]]


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


class StreamReader:
    """Reads the notification stream from now on and hands each entry to `handle` in a task of its own; the Gy
    and Gx notifiers are two readers of the same stream. `log_name` names the read failures in the log."""

    log_name = "notify"

    def __init__(self, store: RedisStore, block_ms: int = 1000) -> None:
        self.store = store
        self.block_ms = block_ms
        self._redis = store.connection()  # own connection: the blocking XREAD must not stall scripts
        self._task: asyncio.Task[None] | None = None
        self._work: set[asyncio.Task[None]] = set()

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run(), name=self.log_name)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for t in list(self._work):
            t.cancel()
        await self._redis.close()

    async def run(self) -> None:
        last = "$"
        key = notify_key(self.store)
        while True:
            try:
                reply = await self._redis.call("XREAD", "BLOCK", self.block_ms, "STREAMS", key, last)
            except (OSError, ConnectionError) as e:
                log.warning(f"{self.log_name}-read-failed", error=str(e))
                await asyncio.sleep(1)
                continue
            for _, entries in reply or ():
                for entry_id, raw in entries:
                    last = _s(entry_id)
                    fields = {_s(raw[i]): _s(raw[i + 1]) for i in range(0, len(raw), 2)}
                    task = asyncio.get_running_loop().create_task(self.handle(fields))
                    self._work.add(task)
                    task.add_done_callback(self._work.discard)

    async def handle(self, fields: dict[str, str]) -> None:
        raise NotImplementedError


class GyNotifier(StreamReader):
    log_name = "gy-notify"

    def __init__(self, store: RedisStore, gy: GyRedis, send: Send, d: Dictionary, origin_host: str,
                 origin_realm: str, block_ms: int = 1000) -> None:
        super().__init__(store, block_ms)
        self.gy, self.send, self.d = gy, send, d
        self.origin_host, self.origin_realm = origin_host, origin_realm

    async def handle(self, fields: dict[str, str]) -> None:
        try:
            if fields.get("kind") == "reauth":
                await self.reauth(fields["account"])
            elif fields.get("kind") == "abort":
                await self.abort(fields["session"], fields["reply"])
        except (OSError, ConnectionError, TimeoutError) as e:
            log.warning("gy-notify-failed", kind=fields.get("kind"), error=str(e) or type(e).__name__)

    async def _request(self, command: str, peer: str, message: Message) -> int | None:
        """Send to `peer`; its Result-Code, or None when this daemon does not hold the peer's connection."""
        try:
            answer = await self.send(peer, message)
        except (ConnectionError, KeyError):
            return None
        except TimeoutError:
            gy_server_requests_total.inc((command, "timeout"))
            log.warning("gy-request-unanswered", command=command, peer=peer)
            return None
        result = int(self.d.read(answer).get("Result-Code", 0))
        gy_server_requests_total.inc((command, str(result)))
        return result

    async def reauth(self, account: str) -> None:
        for session_id, s in (await self.gy.sessions(account)).items():
            if not s["final"]:
                continue
            rar = make_rar(self.d, self.origin_host, self.origin_realm, session_id, s["peer"], s["realm"])
            result = await self._request("RAR", s["peer"], rar)
            if result is not None:
                log.info("rar-answered", session=session_id, account=account, peer=s["peer"], result=result)

    async def abort(self, session_id: str, reply_key: str) -> None:
        account = await self.gy.session_account(session_id)
        session = (await self.gy.sessions(account)).get(session_id) if account is not None else None
        if session is None:
            return await self._reply(reply_key, {"ok": False, "error": f"no live session {session_id}"})
        asr = make_asr(self.d, self.origin_host, self.origin_realm, session_id, session["peer"], session["realm"])
        result = await self._request("ASR", session["peer"], asr)
        if result is not None:
            log.info("asr-answered", session=session_id, peer=session["peer"], result=result)
            await self._reply(reply_key, {"ok": True, "session": session_id, "peer": session["peer"],
                                          "result": result})

    async def _reply(self, key: str, value: dict[str, Any]) -> None:
        p = self.store.pipeline
        await asyncio.gather(p.call("RPUSH", key, json.dumps(value)), p.call("EXPIRE", key, REPLY_TTL))


__all__ = ["GyNotifier", "notify", "notify_key", "notify_reauth"]
