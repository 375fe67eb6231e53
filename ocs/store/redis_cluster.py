"""Redis Cluster and Redis Sentinel behind the interface of `RedisStore` (issue 19).

Cluster (theory of operation): `ClusterPipeline.call()` takes the same commands as `AutoPipeline.call()`, finds
the hash slot of the command's key (the `{tag}` rule of the Redis Cluster specification, "Keys distribution
model"), and hands it to the `AutoPipeline` of the primary that serves the slot: commands of one event-loop turn
still leave as one pipeline, one per node. The slot map comes from CLUSTER SLOTS, read from any known node at the
first call and again after a redirection or a lost node. Redirections (spec "Redirection and resharding"):
- `-MOVED slot host:port`: the slot lives elsewhere for good; the map entry is updated, the command re-sent there
  and a full refresh scheduled;
- `-ASK slot host:port`: the slot is migrating; `ASKING` and the command go together to the target, once;
- `-TRYAGAIN` / `-CLUSTERDOWN` (a multi-key command during migration, a failover in progress) and a node that
  cannot be reached become `ConnectionError`: the request gets a transient answer (ocs/store/guard.py) and the
  peer retries; money operations carry a reference or request id, so a retry is never applied twice.

Every script touches the keys of one slot (one account, one session; the per-slot shared keys are tagged to the
account's slot: `RedisStore.slot_key`), so no script is ever refused with CROSSSLOT (tests/unit/test_slots.py).

Ledger shards: one stream per slot, not per slot group. A script must XADD its ledger entry in the slot of the
account it changes, so a stream per group of slots would need every account of the group hashed to one slot
(all money keys tagged by group, not by account: hot slots, coarse resharding). With one stream per slot the
writer's pass is one script per primary that reads the non-empty streams among its slots (READ_STREAMS below,
11 ms round trip for 5,461 empty slots on the loaded test machine, every `cluster_poll` = 0.5 s while idle),
and resharding moves streams with their accounts.

The ordinary client (admin, ledger rebuild, CLI) is redis-py's `RedisCluster`; a blocking reader (ledger
writer, notification stream) gets its own `ClusterPipeline` (`RedisStore.connection()`).

Sentinel: ocs/store/redis_sentinel.py.
"""

from __future__ import annotations

import asyncio
import binascii
import random
import time
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis.asyncio as aioredis
import structlog
from redis.asyncio.cluster import RedisCluster

from ocs.store.redis_client import SLOTS, AutoPipeline, NoScriptError, RedisStore, ReplyError

log = structlog.get_logger("ocs.redis")

MAX_REDIRECTS = 5
# error replies of a node that cannot serve the slot now (failover, migration): transient, the slot map refreshed
TRANSIENT = ("TRYAGAIN", "CLUSTERDOWN", "LOADING", "MASTERDOWN", "READONLY")
REFRESH_MIN_INTERVAL = 0.5  # seconds between two topology refreshes caused by errors
# commands with no key: sent to any node
KEYLESS = frozenset({"PING", "SCRIPT", "INFO", "CLUSTER", "ECHO", "TIME", "FUNCTION", "WAIT"})


def slot_of(key: str | bytes) -> int:
    """Hash slot of a key: CRC16 of the first non-empty `{...}` tag, or of the whole key (cluster spec)."""
    k = key.encode() if isinstance(key, str) else key
    start = k.find(b"{")
    if start >= 0:
        end = k.find(b"}", start + 1)
        if end > start + 1:
            k = k[start + 1:end]
    return binascii.crc_hqx(k, 0) % SLOTS


def command_key(args: tuple[Any, ...]) -> Any | None:
    """The key that routes a command: EVAL/EVALSHA's first key, XREAD's first stream, else the first argument."""
    if args[0] == "EVALSHA" and args[2]:  # the hot path: a script call with its keys
        return args[3]
    name = str(args[0]).upper()
    if name in KEYLESS or len(args) < 2:
        return None
    if name in ("EVAL", "EVALSHA", "EVALSHA_RO", "EVAL_RO", "FCALL"):
        return args[3] if int(args[2]) > 0 else None
    if name in ("XREAD", "XREADGROUP"):
        upper = [str(a).upper() for a in args]
        return args[upper.index("STREAMS") + 1]
    return args[1]


def node_url(base: str, host: str, port: int) -> str:
    """The URL `base` (credentials, TLS) pointed at host:port, database 0 (the only one in a cluster)."""
    parts = urlsplit(base)
    auth = parts.netloc.rpartition("@")[0]
    netloc = f"{auth}@{host}:{port}" if auth else f"{host}:{port}"
    return urlunsplit((parts.scheme, netloc, "/0", parts.query, ""))


def seeds_of(url: str, extra: tuple[str, ...] = ()) -> list[tuple[str, int]]:
    parts = urlsplit(url)
    seeds = [(parts.hostname or "127.0.0.1", parts.port or 6379)]
    for hp in extra:
        host, _, port = hp.rpartition(":")
        seeds.append((host.strip("[]"), int(port)))
    return seeds


class ClusterPipeline:
    """Auto-pipelining over a Redis Cluster: one `AutoPipeline` per primary, routed by slot."""

    def __init__(self, url: str, seeds: list[tuple[str, int]]) -> None:
        self.url = url
        self.seeds = seeds
        self._slots: list[tuple[str, int] | None] = [None] * SLOTS
        self._nodes: dict[tuple[str, int], AutoPipeline] = {}
        self._refreshing: asyncio.Task[None] | None = None
        self._last_refresh = 0.0
        self._closed = False
        self.standalone = False  # the seed is one Redis without cluster support
        self.redirects = 0  # MOVED/ASK followed (tests, metrics)

    def node(self, addr: tuple[str, int]) -> AutoPipeline:
        pipe = self._nodes.get(addr)
        if pipe is None:
            pipe = self._nodes[addr] = AutoPipeline(node_url(self.url, *addr))
        return pipe

    def primaries(self) -> list[tuple[str, int]]:
        return sorted({a for a in self._slots if a is not None})

    async def refresh(self) -> None:
        """Read the slot map (CLUSTER SLOTS) from the first node that answers."""
        candidates = [*self.primaries(), *self.seeds]
        errors = []
        for addr in dict.fromkeys(candidates):
            probe = AutoPipeline(node_url(self.url, *addr))
            try:
                reply = await asyncio.wait_for(probe.call("CLUSTER", "SLOTS"), 2.0)
            except ReplyError as e:
                if "cluster support disabled" not in str(e):
                    errors.append(f"{addr[0]}:{addr[1]}: {e}")
                    continue
                # one Redis without cluster mode (the per-slot key layout on one server): it serves every slot
                self.standalone = True
                reply = [[0, SLOTS - 1, [addr[0], addr[1]]]]
            except (OSError, ConnectionError, TimeoutError) as e:
                errors.append(f"{addr[0]}:{addr[1]}: {e}")
                continue
            finally:
                await probe.close()
            slots: list[tuple[str, int] | None] = [None] * SLOTS
            for entry in reply:
                start, end, primary = int(entry[0]), int(entry[1]), entry[2]
                host = primary[0] or addr[0]
                for s in range(start, end + 1):
                    slots[s] = (host, int(primary[1]))
            self._slots = slots
            self._last_refresh = time.monotonic()
            for gone in set(self._nodes) - set(self.primaries()):
                await self._nodes.pop(gone).close()
            return
        raise ConnectionError("no Redis Cluster node answered CLUSTER SLOTS: " + "; ".join(errors))

    def _schedule_refresh(self) -> None:
        if self._closed or (self._refreshing is not None and not self._refreshing.done()):
            return
        if time.monotonic() - self._last_refresh < REFRESH_MIN_INTERVAL:
            return

        async def run() -> None:
            try:
                await self.refresh()
            except ConnectionError as e:
                log.warning("redis-cluster-refresh-failed", error=str(e))

        self._last_refresh = time.monotonic()
        self._refreshing = asyncio.get_running_loop().create_task(run())

    async def _addr_for(self, key: Any | None) -> tuple[str, int]:
        if key is None:
            if not self.primaries():
                await self.refresh()
            return random.choice(self.primaries())
        slot = slot_of(key)
        addr = self._slots[slot]
        if addr is None:
            await self.refresh()
            addr = self._slots[slot]
            if addr is None:
                raise ConnectionError(f"Redis Cluster slot {slot} is not served (CLUSTERDOWN)")
        return addr

    async def call(self, *args: Any) -> Any:
        key = command_key(args)
        addr = self._slots[slot_of(key)] if key is not None else None
        if addr is not None:  # the hot path: the slot's node is known
            try:
                return await self.node(addr).call(*args)
            except ReplyError as e:
                if not str(e).startswith(("MOVED ", "ASK ")):  # not executed: sent again where it belongs
                    raise self._transient(e) or e from None
            except ConnectionError:
                self._schedule_refresh()
                raise
        return await self.call_waiting(args, 0, 0)

    def _transient(self, e: ReplyError) -> ConnectionError | None:
        if str(e).startswith(TRANSIENT):
            self._schedule_refresh()
            return ConnectionError(f"Redis Cluster: {e}")
        return None

    async def call_waiting(self, args: tuple[Any, ...], replicas: int, timeout_ms: int) -> Any:
        """`call(*args)`; with `replicas`, followed by WAIT on the same connection (`with_wait`)."""
        addr = await self._addr_for(command_key(args))
        asking = False
        for _ in range(MAX_REDIRECTS):
            pipe = self.node(addr)
            try:
                if asking:
                    return (await asyncio.gather(pipe.call("ASKING"), pipe.call(*args)))[1]
                if replicas:
                    return await with_wait(pipe, args, replicas, timeout_ms)
                return await pipe.call(*args)
            except ReplyError as e:
                message = str(e)
                kind, _, rest = message.partition(" ")
                if kind == "MOVED":
                    slot, target = rest.split(" ", 1)
                    host, _, port = target.rpartition(":")
                    addr = (host or addr[0], int(port))
                    self._slots[int(slot)] = addr
                    self.redirects += 1
                    self._schedule_refresh()
                    asking = False
                    continue
                if kind == "ASK":
                    _, target = rest.split(" ", 1)
                    host, _, port = target.rpartition(":")
                    addr = (host or addr[0], int(port))
                    self.redirects += 1
                    asking = True
                    continue
                raise self._transient(e) or e from None
            except ConnectionError:
                self._schedule_refresh()
                raise
        raise ConnectionError(f"Redis Cluster: more than {MAX_REDIRECTS} redirections for {args[0]}")

    async def call_on(self, addr: tuple[str, int], *args: Any) -> Any:
        return await self.node(addr).call(*args)

    async def close(self) -> None:
        self._closed = True
        if self._refreshing is not None:
            self._refreshing.cancel()
        for pipe in list(self._nodes.values()):
            await pipe.close()
        self._nodes.clear()


class ClusterStore(RedisStore):
    """`RedisStore` on a Redis Cluster: the per-slot key layout, a slot-routed pipeline, a cluster client."""

    def __init__(self, url: str, prefix: str = "ocs", *, seeds: tuple[str, ...] = (), wait_replicas: int = 0,
                 wait_timeout: int = 100) -> None:
        super().__init__(url, prefix, cluster=True)
        self.wait_replicas, self.wait_timeout = wait_replicas, wait_timeout
        self._seeds = seeds_of(url, seeds)
        self.pipeline = ClusterPipeline(url, self._seeds)  # type: ignore[assignment]

    @property
    def cluster_pipeline(self) -> ClusterPipeline:
        assert isinstance(self.pipeline, ClusterPipeline)
        return self.pipeline

    async def start(self) -> None:
        await self.cluster_pipeline.refresh()
        if not self.cluster_pipeline.standalone:  # the ordinary client too speaks the cluster protocol
            await self.client.aclose()
            self.client = RedisCluster.from_url(node_url(self.url, *self._seeds[0]),  # type: ignore[assignment]
                                                decode_responses=True)
            # learn every node now (its startup nodes become all of them): a first use after the seed node died
            # would otherwise find no node to ask for the topology
            await self.client.initialize()
        await self.load_scripts_everywhere()

    async def load_scripts_everywhere(self) -> None:
        p = self.cluster_pipeline
        for addr in p.primaries():
            for script in self.scripts.values():
                sha = await p.call_on(addr, "SCRIPT", "LOAD", script.source)
                if sha != script.sha:
                    raise RuntimeError(f"Redis returned sha {sha} for script {script.name}, expected {script.sha}")

    async def evalsha(self, name: str, keys: list[str], args: list[Any]) -> Any:
        script = self.scripts[name]
        command = ("EVALSHA", script.sha, len(keys), *keys, *args)
        try:
            return await self.cluster_pipeline.call_waiting(command, self.wait_replicas, self.wait_timeout)
        except NoScriptError:  # a promoted replica or a new node: load on every primary, retry once
            await self.cluster_pipeline.refresh()
            await self.load_scripts_everywhere()
            return await self.pipeline.call(*command)

    def connection(self) -> Any:
        return ClusterPipeline(self.url, self._seeds)

    async def close(self) -> None:
        await self.pipeline.close()
        await self.client.aclose()


async def with_wait(pipe: AutoPipeline, command: tuple[Any, ...], replicas: int, timeout_ms: int) -> Any:
    """The command, then WAIT on the same connection in the same write: its reply once `replicas` replicas have
    it or `timeout_ms` passed. WAIT makes the write survive a failover to an acknowledging replica (Redis docs,
    "WAIT": not strong consistency, but a promoted replica that acknowledged holds the charge); a shortfall is
    logged, the answer stands (the change is on the primary and in its AOF)."""
    result, acked = await asyncio.gather(pipe.call(*command), pipe.call("WAIT", replicas, timeout_ms))
    if int(acked) < replicas:
        log.warning("redis-wait-short", replicas=int(acked), wanted=replicas)
    return result


def make_store(url: str, prefix: str, *, cluster: bool = False, seeds: tuple[str, ...] = (),
               sentinels: tuple[str, ...] = (), sentinel_master: str = "mymaster", wait_replicas: int = 0,
               wait_timeout: int = 100) -> RedisStore:
    """The store the `[redis]` section asks for: one Redis, a Cluster (seed nodes) or one behind Sentinel."""
    if sentinels:
        from ocs.store.redis_sentinel import SentinelStore

        return SentinelStore(url, prefix, sentinels=sentinels, master=sentinel_master, wait_replicas=wait_replicas,
                             wait_timeout=wait_timeout)
    if cluster:
        return ClusterStore(url, prefix, seeds=seeds, wait_replicas=wait_replicas, wait_timeout=wait_timeout)
    return RedisStore(url, prefix)


__all__ = ["ClusterPipeline", "ClusterStore", "aioredis", "command_key", "make_store", "read_streams", "slot_of",
           "with_wait"]


# Read the first entries of many streams of one node in one call (the ledger writer's pass over the per-slot
# streams): Redis 7 lets a script touch keys of several slots of its own node with this flag (Redis docs,
# "Eval scripts: script flags"); the keys go as arguments (declared keys of several slots are refused CROSSSLOT).
READ_STREAMS = """#!lua flags=no-writes,allow-cross-slot-keys
local out = {}
for i = 2, #ARGV do
  local key = ARGV[i]
  local entries = redis.call('XRANGE', key, '-', '+', 'COUNT', ARGV[1])
  if #entries > 0 then out[#out + 1] = {key, entries} end
end
return out
"""


async def read_streams(store: ClusterStore, keys: list[str], count: int) -> list[Any]:
    """XREAD-shaped reply ([stream, entries] for each non-empty stream) over `keys` spread across the cluster:
    one script call per primary, with the keys of the slots it serves."""
    p = store.cluster_pipeline
    if not p.primaries():
        await p.refresh()
    by_node: dict[tuple[str, int], list[str]] = {}
    for key in keys:
        addr = p._slots[slot_of(key)]
        if addr is not None:
            by_node.setdefault(addr, []).append(key)
    try:
        replies = await asyncio.gather(*(p.call_on(addr, "EVAL", READ_STREAMS, 0, count, *ks)
                                         for addr, ks in by_node.items()))
    except ReplyError as e:  # a slot moved meanwhile: read the new map, try again next pass
        await p.refresh()
        raise ConnectionError(f"Redis Cluster: {e}") from e
    return [stream for reply in replies for stream in reply]
