"""Server-initiated Gy requests (issue 9 point 5): other processes (the CLI's top-up, purchase, `ocsd session
terminate`) tell the running daemon through a Redis stream, `<p>:gynotify`, which every daemon reads.

- `reauth` (account): after a top-up, a bundle purchase or an unblock, each live session of the account whose
  last CCR got a final grant, a 4012 or a 4010 is sent a RAR (AUTHORIZE_ONLY) over the connection of the peer
  that owns it; the RAA (Result-Code, time, peer) is recorded on the session (`ocsd session list` shows it as
  `last_rar`), logged and counted (`ocsd_gy_server_requests_total`). An RAA 5002 DIAMETER_UNKNOWN_SESSION_ID
  closes the session at once: the client no longer knows it, so no CCR-T will come (RFC 6733 §8.3.2, RFC 4006
  §5.5), its reservations go back.
- `abort` (session, reply key): an ASR to the session's owning peer; the ASA's Result-Code is pushed to the
  reply key, where the CLI waits for it (BLPOP). ASA 2001: the client ends the session with its CCR-T (RFC 6733
  §8.5, RFC 4006 §5.5.3), so the session is only marked `terminating`, and the reaper closes it when no CCR-T
  came within `[gy] session_grace`; ASA 5002: the client has no such session, it is closed at once.
A daemon that does not hold the owning peer's connection skips the entry (another daemon sharing Redis does).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
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

DIAMETER_SUCCESS, DIAMETER_UNKNOWN_SESSION_ID = 2001, 5002  # RFC 6733 §7.1.2, §7.1.4
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
                 origin_realm: str, block_ms: int = 1000, *, session_grace: int = 300) -> None:
        super().__init__(store, block_ms)
        self.gy, self.send, self.d = gy, send, d
        self.origin_host, self.origin_realm = origin_host, origin_realm
        self.session_grace = session_grace

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
            if result is None:
                continue
            now_ms = int(time.time() * 1000)
            log.info("rar-answered", session=session_id, account=account, peer=s["peer"], result=result)
            if result == DIAMETER_UNKNOWN_SESSION_ID:
                await self.gy.close(account, session_id, "unknown-to-client", now_ms)
            else:
                await self.gy.mark(account, session_id, rar=(result, now_ms, s["peer"]))

    async def abort(self, session_id: str, reply_key: str) -> None:
        account = await self.gy.session_account(session_id)
        session = (await self.gy.sessions(account)).get(session_id) if account is not None else None
        if session is None:
            return await self._reply(reply_key, {"ok": False, "error": f"no live session {session_id}"})
        asr = make_asr(self.d, self.origin_host, self.origin_realm, session_id, session["peer"], session["realm"])
        result = await self._request("ASR", session["peer"], asr)
        if result is None:
            return None
        assert account is not None
        now_ms = int(time.time() * 1000)
        state = session["state"]
        if result == DIAMETER_SUCCESS:  # RFC 6733 §8.5: the client now sends its CCR-T (STR)
            deadline = now_ms + self.session_grace * 1000
            found = await self.gy.mark(account, session_id, terminating_until=deadline)
            state = "terminating" if found else "closed"  # not found: its CCR-T came first
        elif result == DIAMETER_UNKNOWN_SESSION_ID:  # the client has no such session: nothing more will come
            await self.gy.close(account, session_id, "aborted", now_ms)
            state = "closed"
        log.info("asr-answered", session=session_id, peer=session["peer"], result=result, state=state)
        await self._reply(reply_key, {"ok": True, "session": session_id, "peer": session["peer"], "result": result,
                                      "state": state})

    async def _reply(self, key: str, value: dict[str, Any]) -> None:
        p = self.store.pipeline
        await asyncio.gather(p.call("RPUSH", key, json.dumps(value)), p.call("EXPIRE", key, REPLY_TTL))


__all__ = ["GyNotifier", "notify", "notify_key", "notify_reauth"]
