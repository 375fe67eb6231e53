"""Redis access for ocsd: a client from a URL and a key prefix, the Lua scripts, and the auto-pipelining caller.

Theory of operation (auto-pipelining): `AutoPipeline.call()` packs a command into a buffer and returns a
future; the first call of an event-loop turn schedules one `_flush` with `call_soon`, so every command issued
in that turn leaves in ONE write (one syscall, one round trip). A reader task parses replies with hiredis in
order and resolves the futures first-in first-out. An error reply resolves only its own future (with
`ReplyError`), never its neighbours'. If the connection breaks, every command in flight fails with
`ConnectionError`: its effect on Redis is unknown, so money operations carry a reference or request id and
are safe to retry. The next call reconnects.

Scripts: `ocs/store/lua/<name>.lua`, each prefixed with `_lib.lua`, are loaded with SCRIPT LOAD at start and
called by EVALSHA; a NOSCRIPT reply (Redis restarted, failover) loads the script again and retries once.

Keys: every key of a subscriber carries the hash tag `{<imsi>}`. The shared keys (ledger stream, reaper and
expiry indexes) come in one of two layouts. On one Redis (the default) each is a single key: the ledger writer
reads one stream. With `cluster=True` there is one of each per cluster slot, tagged to hash to the same slot
as the IMSI (`slot_tag`), so each script touches one slot and runs unchanged on Redis Cluster; the writer then
reads 16384 streams a pass (about 4 ms of Redis time on one server, which is why it is not the default). (The
caller itself speaks to one node; a Cluster deployment needs one AutoPipeline per node, routed by slot.)
"""

from __future__ import annotations

import asyncio
import binascii
import collections
import contextlib
import hashlib
from collections.abc import Awaitable
from dataclasses import dataclass
from importlib import resources
from typing import Any, cast

import hiredis
import redis.asyncio as aioredis
from redis.asyncio.connection import parse_url

SLOTS = 16384


class ReplyError(Exception):
    """An error reply of Redis to one command."""


class NoScriptError(ReplyError):
    pass


def _reply_error(message: str) -> ReplyError:
    return NoScriptError(message) if message.startswith("NOSCRIPT") else ReplyError(message)


def key_slot(tag: str) -> int:
    """Redis Cluster slot of a hash tag (CRC16/XMODEM mod 16384)."""
    return binascii.crc_hqx(tag.encode(), 0) % SLOTS


def _build_slot_tags() -> list[str]:
    tags: list[str | None] = [None] * SLOTS
    missing, i = SLOTS, 0
    while missing:
        tag = format(i, "x")
        slot = key_slot(tag)
        if tags[slot] is None:
            tags[slot] = tag
            missing -= 1
        i += 1
    return [t for t in tags if t is not None]


_SLOT_TAGS: list[str] = []


def slot_tag(slot: int) -> str:
    """The shortest hex string that hashes to `slot`: the tag of that slot's shared keys."""
    if not _SLOT_TAGS:
        _SLOT_TAGS.extend(_build_slot_tags())
    return _SLOT_TAGS[slot]


@dataclass(frozen=True, slots=True)
class Script:
    name: str
    source: str
    sha: str = ""  # SHA1 of the source, computed once (EVALSHA names the script by it on every call)

    def __post_init__(self) -> None:
        if not self.sha:
            object.__setattr__(self, "sha", hashlib.sha1(self.source.encode()).hexdigest())


def load_scripts() -> dict[str, Script]:
    folder = resources.files("ocs.store").joinpath("lua")
    lib = folder.joinpath("_lib.lua").read_text()
    scripts = {}
    for entry in folder.iterdir():
        if entry.name.endswith(".lua") and not entry.name.startswith("_"):
            name = entry.name[:-4]
            scripts[name] = Script(name, lib + "\n" + entry.read_text())
    return scripts


class AutoPipeline:
    """One connection; all commands of an event-loop turn are written together; replies resolve in order."""

    def __init__(self, url: str) -> None:
        self._params = parse_url(url)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._read_task: asyncio.Task[None] | None = None
        self._connecting: asyncio.Lock | None = None
        self._buffer: list[bytes] = []
        self._inflight: collections.deque[asyncio.Future[Any]] = collections.deque()
        self._flush_scheduled = False
        self._closed = False
        # the event loop, taken once per connection: asyncio.get_running_loop() costs a getpid() system call
        # per call on Python 3.11 (3.8% of the daemon's CPU when it was called twice per Redis command)
        self._loop: asyncio.AbstractEventLoop | None = None

    async def _connect(self) -> None:
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._writer is not None:
                return
            if self._closed:
                raise ConnectionError("AutoPipeline is closed")
            p = self._params
            if "path" in p:
                reader, writer = await asyncio.open_unix_connection(p["path"])
            else:
                reader, writer = await asyncio.open_connection(p.get("host", "127.0.0.1"), int(p.get("port", 6379)))
            hello: list[tuple[Any, ...]] = []
            if p.get("password"):
                hello.append(("AUTH", p["username"], p["password"]) if p.get("username")
                             else ("AUTH", p["password"]))
            if int(p.get("db", 0)):
                hello.append(("SELECT", int(p["db"])))
            parser = hiredis.Reader(encoding="utf-8", replyError=_reply_error)
            if hello:
                writer.write(b"".join(hiredis.pack_command(c) for c in hello))
                for _ in hello:
                    reply = parser.gets()
                    while reply is False:
                        data = await reader.read(4096)
                        if not data:
                            raise ConnectionError("Redis closed the connection during the handshake")
                        parser.feed(data)
                        reply = parser.gets()
                    if isinstance(reply, ReplyError):
                        writer.close()
                        raise reply
            self._loop = asyncio.get_running_loop()
            self._reader, self._writer = reader, writer
            self._read_task = self._loop.create_task(self._read_loop(reader, parser))

    def call(self, *args: Any) -> Awaitable[Any]:
        """The reply of one command, as an awaitable: a plain future once connected (no coroutine frame per
        command on the hot path, issue 15), else a coroutine that connects first."""
        loop = self._loop
        if self._writer is None or loop is None:
            return self._connect_and_call(args)
        fut: asyncio.Future[Any] = loop.create_future()
        self._buffer.append(hiredis.pack_command(args))
        self._inflight.append(fut)
        if not self._flush_scheduled:
            self._flush_scheduled = True
            loop.call_soon(self._flush)
        return fut

    async def _connect_and_call(self, args: tuple[Any, ...]) -> Any:
        await self._connect()
        return await self.call(*args)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if not self._buffer:
            return
        data = b"".join(self._buffer)
        self._buffer.clear()
        if self._writer is None:
            self._fail_all(ConnectionError("Redis connection lost"))
            return
        self._writer.write(data)

    async def _read_loop(self, reader: asyncio.StreamReader, parser: hiredis.Reader) -> None:
        error: BaseException = ConnectionError("Redis closed the connection")
        try:
            while True:
                data = await reader.read(1 << 17)
                if not data:
                    break
                parser.feed(data)
                reply = parser.gets()
                while reply is not False:
                    fut = self._inflight.popleft()
                    if not fut.done():
                        if isinstance(reply, ReplyError):
                            fut.set_exception(reply)
                        else:
                            fut.set_result(reply)
                    reply = parser.gets()
        except (OSError, hiredis.ProtocolError) as exc:
            error = ConnectionError(f"Redis connection failed: {exc}")
        except asyncio.CancelledError:
            error = ConnectionError("AutoPipeline closed")
        finally:
            writer, self._writer, self._reader = self._writer, None, None
            if writer is not None:
                writer.close()
            self._fail_all(error)

    def _fail_all(self, error: BaseException) -> None:
        self._buffer.clear()
        while self._inflight:
            fut = self._inflight.popleft()
            if not fut.done():
                fut.set_exception(error)

    async def close(self) -> None:
        self._closed = True
        task, self._read_task = self._read_task, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


class RedisStore:
    """The Redis side of ocsd: a key prefix, an ordinary client (admin, ledger, rebuild) and the scripts."""

    def __init__(self, url: str, prefix: str = "ocs", *, cluster: bool = False) -> None:
        if not prefix or "{" in prefix or "}" in prefix:
            raise ValueError(f"key prefix {prefix!r} must be non-empty and carry no braces")
        self.url = url
        self.prefix = prefix
        self.cluster = cluster
        self.client: aioredis.Redis = aioredis.Redis.from_url(url, decode_responses=True)
        self.pipeline = AutoPipeline(url)
        self.scripts = load_scripts()

    async def start(self) -> None:
        for script in self.scripts.values():
            sha = await self.client.script_load(script.source)
            if sha != script.sha:
                raise RuntimeError(f"Redis returned sha {sha} for script {script.name}, expected {script.sha}")

    async def close(self) -> None:
        await self.pipeline.close()
        await self.client.aclose()

    def connection(self) -> AutoPipeline:
        """A caller of its own (a blocking XREAD must not stall scripts); slot-routed on a Cluster
        (ocs/store/redis_cluster.py overrides this)."""
        return AutoPipeline(self.url)

    async def evalsha(self, name: str, keys: list[str], args: list[Any]) -> Any:
        script = self.scripts[name]
        try:
            return await self.pipeline.call("EVALSHA", script.sha, len(keys), *keys, *args)
        except NoScriptError:
            await self.pipeline.call("SCRIPT", "LOAD", script.source)
            return await self.pipeline.call("EVALSHA", script.sha, len(keys), *keys, *args)

    # typed helpers over the ordinary client (redis-py's own annotations are loose)
    async def hgetall(self, key: str) -> dict[str, str]:
        return cast(dict[str, str], await cast(Any, self.client).execute_command("HGETALL", key))

    async def hget(self, key: str, field: str) -> str | None:
        return cast("str | None", await cast(Any, self.client).execute_command("HGET", key, field))

    async def xrange(self, key: str) -> list[tuple[str, dict[str, str]]]:
        reply = await cast(Any, self.client).execute_command("XRANGE", key, "-", "+")
        return cast(list[tuple[str, dict[str, str]]], reply)

    # keys
    def key(self, imsi: str, name: str) -> str:
        """A key of one subscriber: `<prefix>:{<imsi>}:<name>`."""
        return f"{self.prefix}:{{{imsi}}}:{name}"

    def slot_key(self, imsi: str, name: str) -> str:
        """The shared key `name` that scripts of `imsi` write: `<prefix>:<name>`, or in the cluster layout the
        one in the slot of `imsi`, `<prefix>:<name>:{<slot tag>}`."""
        if not self.cluster:
            return f"{self.prefix}:{name}"
        return f"{self.prefix}:{name}:{{{slot_tag(key_slot(imsi))}}}"

    def slot_keys(self, name: str) -> list[str]:
        """Every key of the shared key `name` (ledger streams, indexes): one, or one per slot."""
        if not self.cluster:
            return [f"{self.prefix}:{name}"]
        return [f"{self.prefix}:{name}:{{{slot_tag(s)}}}" for s in range(SLOTS)]
