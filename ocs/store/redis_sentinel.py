"""Redis Sentinel behind the interface of `RedisStore` (`[redis] sentinels`, `sentinel_master`; issue 19).

`SentinelPipeline` asks the sentinels for the current primary of the master name before each (re)connection, so
after a failover (Redis docs, "High availability with Redis Sentinel") the next call reaches the promoted
replica; until then calls fail as transient. The ordinary client is redis-py's `Sentinel.master_for`. With
`wait_replicas`, every script is followed by WAIT on the same connection (`with_wait`).
"""

from __future__ import annotations

from typing import Any

from redis.asyncio.sentinel import Sentinel

from ocs.store.redis_client import AutoPipeline, NoScriptError, RedisStore
from ocs.store.redis_cluster import seeds_of, with_wait


class SentinelPipeline(AutoPipeline):
    """An `AutoPipeline` to the current primary of `master`, asked of the sentinels at each (re)connection."""

    def __init__(self, url: str, sentinel: Sentinel, master: str) -> None:
        super().__init__(url)
        self._sentinel = sentinel
        self._master = master

    async def _connect(self) -> None:
        if self._writer is None:
            host, port = await self._sentinel.discover_master(self._master)
            self._params = {**self._params, "host": host, "port": int(port)}
        await super()._connect()


class SentinelStore(RedisStore):
    """`RedisStore` on a primary found through Redis Sentinel (`[redis] sentinels`, `sentinel_master`)."""

    def __init__(self, url: str, prefix: str, *, sentinels: tuple[str, ...], master: str, wait_replicas: int = 0,
                 wait_timeout: int = 100) -> None:
        super().__init__(url, prefix)
        self.wait_replicas, self.wait_timeout = wait_replicas, wait_timeout
        self.sentinel = Sentinel(seeds_of("redis://x", sentinels)[1:], socket_timeout=1.0)
        self.master = master
        self.client = self.sentinel.master_for(master, decode_responses=True)
        self.pipeline = SentinelPipeline(url, self.sentinel, master)

    def connection(self) -> Any:
        return SentinelPipeline(self.url, self.sentinel, self.master)

    async def evalsha(self, name: str, keys: list[str], args: list[Any]) -> Any:
        if not self.wait_replicas:
            return await super().evalsha(name, keys, args)
        script = self.scripts[name]
        command = ("EVALSHA", script.sha, len(keys), *keys, *args)
        try:
            return await with_wait(self.pipeline, command, self.wait_replicas, self.wait_timeout)
        except NoScriptError:
            await self.pipeline.call("SCRIPT", "LOAD", script.source)
            return await with_wait(self.pipeline, command, self.wait_replicas, self.wait_timeout)

    async def close(self) -> None:
        await self.pipeline.close()
        await self.client.aclose()
        for s in self.sentinel.sentinels:
            await s.aclose()


__all__ = ["SentinelPipeline", "SentinelStore"]
