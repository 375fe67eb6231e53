"""The authentication centre: authentication vectors with SQNs that are never reused (TS 33.102 §6.3, Annex C).

Per AIR the hot path is one Redis script call (`auc_seq.lua`): it hands out the SEQs and returns the
subscriber's sealed K and OPc, AMF and status from the same hash. PostgreSQL is touched only when a
subscriber is not cached yet or the SEQs reserved for it are used up: one UPDATE raises
`subscribers.seq_reserved` by a block and returns the record (`_reserve`), and `auc_load.lua` caches it.
Reservations are single-flight per IMSI: while one is in flight, every other caller that finds the cache cold
or used up waits for it and tries Redis again, instead of reserving a block of its own (500 AIRs in flight
for one IMSI after a restart would otherwise make 500 commits and burn 500 blocks of SQN space).
Every SEQ handed out is at most `seq_reserved`, and a fresh cache starts above the old `seq_reserved`, so a
crash of the daemon or a loss of Redis skips SEQs but never repeats one.

SQN = SEQ || IND (Annex C.1.1) with IND = 0 and `ind_bits` from the config. K and OPc stay sealed at rest,
in PostgreSQL and in Redis; they are opened in memory only, kept per subscriber in a bounded cache keyed by
the sealed bytes (a changed key is a new entry), and never logged. The Redis record names the key file it was
checked with (`kid`, the sealer's key id): a record cached by a process with another key file is dropped by
`auc_seq.lua` and reloaded from PostgreSQL, instead of failing every AIR. A value in PostgreSQL sealed before
key ids existed is opened once when it is loaded, to check it belongs to this key file.
"""

from __future__ import annotations

import asyncio
import os
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, NamedTuple

import asyncpg

from auc import (
    AutsError,
    EutranVector,
    GeranVector,
    Milenage,
    UmtsVector,
    generate_eutran_vectors,
    generate_umts_vector,
    geran_from_umts,
    make_sqn,
    resync,
    split_sqn,
)
from ocs.sealing import Sealer, sealed_by
from ocs.store.redis_client import RedisStore
from ocs.subscribers.errors import ResyncFailed, UnknownUser

SQN_MAX = (1 << 48) - 1


def aad(name: str, imsi: str) -> bytes:
    """Associated data binding a sealed key to its subscriber row: b"k:<imsi>", b"opc:<imsi>"."""
    return f"{name}:{imsi}".encode()


class Vectors(NamedTuple):  # one per AIR: a named tuple costs half a frozen dataclass (issue 15)
    eutran: tuple[EutranVector, ...]
    utran: tuple[UmtsVector, ...]
    geran: tuple[GeranVector, ...]
    sqns: tuple[int, ...]  # the SQN of each vector, in the order made (E-UTRAN first)
    status: str  # "active" or "barred"


class RandomPool:
    """os.urandom drawn 4 KiB at a time and handed out in slices: one getrandom() call per 256 RANDs instead
    of one per vector (a system call costs more than the slice). RAND travels in clear in the AIA; its only
    requirement is unpredictability (TS 33.102 §6.3.2), which os.urandom gives."""

    __slots__ = ("_buf", "_pos", "_chunk")

    def __init__(self, chunk: int = 4096) -> None:
        self._chunk = chunk
        self._buf = b""
        self._pos = 0

    def __call__(self, n: int) -> bytes:
        if self._pos + n > len(self._buf):
            self._buf, self._pos = os.urandom(max(self._chunk, n)), 0
        out = self._buf[self._pos:self._pos + n]
        self._pos += n
        return out


class AucService:
    """Vectors for AIR. `random(16)` draws RANDs (os.urandom through a RandomPool; tests may pass their own)."""

    def __init__(self, store: RedisStore, pool: asyncpg.Pool, sealer: Sealer, *, ind_bits: int = 5,
                 seq_block: int = 1000, random: Callable[[int], bytes] | None = None,
                 cache_size: int = 100_000) -> None:
        self.store = store
        self.pool = pool
        self.sealer = sealer
        self.ind_bits = ind_bits
        self.seq_block = seq_block
        self.random = random if random is not None else RandomPool()
        self._opened: OrderedDict[str, tuple[str, str, Milenage]] = OrderedDict()
        self._cache_size = cache_size
        self.seq_max = SQN_MAX >> ind_bits
        self._kid = sealer.key_id.hex()
        self._reserving: dict[str, asyncio.Task[None]] = {}  # IMSI -> the reservation in flight for it

    def _key(self, imsi: str) -> str:
        return self.store.key(imsi, "auc")

    # --- the SEQ counter -----------------------------------------------------------------------------------
    async def _allocate(self, imsi: str, n: int, floor: int = 0,
                        reply: list[Any] | None = None) -> tuple[int, str, str, bytes, str]:
        """n consecutive SEQs above `floor`: (first SEQ, sealed k hex, sealed opc hex, AMF, status). `reply` is
        the answer of a first `auc_seq` call the caller already made (`vectors` makes it inline)."""
        key = self._key(imsi)
        own = 0  # reservations this caller started; waiting for another caller's one costs nothing
        for _ in range(64):
            if reply is None:
                reply = await self.store.evalsha("auc_seq", [key], [n, floor, self._kid])
            first = int(reply[0])
            if first > 0:
                if first + n - 1 > self.seq_max:
                    raise ResyncFailed(f"SEQ space of {imsi} exhausted")
                return first, reply[1], reply[2], bytes.fromhex(reply[3]), reply[4]
            above = int(reply[1]) + n if first == -1 else 0
            reply = None
            if await self._reserve_once(imsi, max(above, floor + n)):
                own += 1
                if own > 4:
                    break
        raise RuntimeError(f"could not reserve SEQs for {imsi}")  # only under a storm of concurrent reservations

    async def _reserve_once(self, imsi: str, above: int) -> bool:
        """Single-flight `_reserve`: join the reservation in flight for `imsi` if there is one (and return
        False), else start one and wait for it (True). The reservation runs as a task of its own, shielded, so
        a caller that is cancelled (its request timed out) neither cancels it nor the other callers'. Its
        `above` may be lower than a joiner's; the joiner then finds its SEQs used up and reserves again."""
        task = self._reserving.get(imsi)
        started = task is None
        if task is None:
            task = asyncio.ensure_future(self._reserve(imsi, above))
            self._reserving[imsi] = task
            task.add_done_callback(lambda t: self._reserved(imsi, t))
        await asyncio.shield(task)
        return started

    def _reserved(self, imsi: str, task: asyncio.Task[None]) -> None:
        if self._reserving.get(imsi) is task:
            del self._reserving[imsi]
        if not task.cancelled():
            task.exception()  # retrieved here too: every waiter may have been cancelled meanwhile

    async def _reserve(self, imsi: str, above: int) -> None:
        """Raise seq_reserved in PostgreSQL to at least `above` + one block, then cache the record."""
        block = max(self.seq_block, 1)
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                "UPDATE subscribers SET seq_reserved = GREATEST(seq_reserved, $2) + $3, updated_at = now() "
                "WHERE imsi = $1 RETURNING seq_reserved, k_enc, opc_enc, amf, status", imsi, above, block)
        if row is None:
            raise UnknownUser(imsi)
        k_enc, opc_enc = bytes(row["k_enc"]), bytes(row["opc_enc"])
        self._check_sealed(imsi, k_enc, opc_enc)
        limit = int(row["seq_reserved"])
        await self.store.evalsha("auc_load", [self._key(imsi)], [
            limit - block, limit, k_enc.hex(), opc_enc.hex(), bytes(row["amf"]).hex(), row["status"], self._kid])

    def _check_sealed(self, imsi: str, k_enc: bytes, opc_enc: bytes) -> None:
        """Values from PostgreSQL are cached only when they are this key file's: a value naming another key
        raises KeyMismatch (the key file is wrong, not the cache); one of the previous layout (no key id) is
        opened once to check it (SealingError if it does not open)."""
        for name, sealed in (("k", k_enc), ("opc", opc_enc)):
            if sealed_by(sealed) != self.sealer.key_id:
                # no id (previous layout), or another key's id: open raises KeyMismatch unless it is an old
                # value whose random nonce happens to begin like an id (one in 2^32), which then opens
                self.sealer.open(sealed, aad(name, imsi))

    async def forget(self, imsi: str) -> None:
        """Drop the cached record (after the subscriber was changed or deleted); the SEQ state is rebuilt from
        PostgreSQL above seq_reserved on the next request."""
        await self.store.client.delete(self._key(imsi))
        self._opened.pop(imsi, None)

    # --- keys ----------------------------------------------------------------------------------------------
    def _milenage(self, imsi: str, k_hex: str, opc_hex: str) -> Milenage:
        cached = self._opened.get(imsi)
        if cached is not None and cached[0] == k_hex and cached[1] == opc_hex:
            self._opened.move_to_end(imsi)
            return cached[2]
        k = self.sealer.open(bytes.fromhex(k_hex), aad("k", imsi))
        opc = self.sealer.open(bytes.fromhex(opc_hex), aad("opc", imsi))
        m = Milenage(k, opc)
        self._opened[imsi] = (k_hex, opc_hex, m)
        if len(self._opened) > self._cache_size:
            self._opened.popitem(last=False)
        return m

    async def _keys(self, imsi: str) -> Milenage:
        """The subscriber's Milenage (for a resynchronisation, before any SEQ is handed out)."""
        fields = await self.store.hgetall(self._key(imsi))
        if fields and fields.get("kid") != self._kid:  # cached under another key file: reload it
            await self.forget(imsi)
            fields = {}
        if not fields:
            await self._reserve_once(imsi, 0)
            fields = await self.store.hgetall(self._key(imsi))
        return self._milenage(imsi, fields["k"], fields["opc"])

    # --- vectors -------------------------------------------------------------------------------------------
    async def vectors(self, imsi: str, serving_network: bytes, eutran: int = 1, utran: int = 0, geran: int = 0,
                      resync_info: bytes | None = None) -> Vectors:
        """`eutran` E-UTRAN vectors for the serving network (Visited-PLMN-Id), then `utran` UMTS quintets and
        `geran` GSM triplets, each with its own RAND and SQN. `resync_info` = RAND || AUTS (TS 29.272 §7.3.15):
        the USIM's SQN_MS is recovered and checked (MAC-S), and the new SQNs continue above it."""
        floor = 0
        if resync_info is not None:
            if len(resync_info) != 30:
                raise ResyncFailed(f"Re-Synchronization-Info has {len(resync_info)} octets, not 30")
            m = await self._keys(imsi)
            try:
                sqn_ms = resync(m, None, resync_info[:16], resync_info[16:])
            except AutsError:
                raise ResyncFailed("AUTS does not verify (MAC-S)") from None
            floor = split_sqn(sqn_ms, self.ind_bits)[0]
        n = max(eutran + utran + geran, 1)
        # the hot path inline (one coroutine frame less per AIR): the SEQs and the record in one script call
        reply = await self.store.evalsha("auc_seq", [self._key(imsi)], [n, floor, self._kid])
        first = int(reply[0])
        if first > 0 and first + n - 1 <= self.seq_max:
            k_hex, opc_hex, amf, status = reply[1], reply[2], bytes.fromhex(reply[3]), reply[4]
        else:  # cold cache, SEQs used up, another key file, or the SEQ space exhausted
            first, k_hex, opc_hex, amf, status = await self._allocate(imsi, n, floor, reply)
        m = self._milenage(imsi, k_hex, opc_hex)
        bits = self.ind_bits
        draw = self.random
        if eutran == 1 and not utran and not geran:  # the usual AIR
            sqns: tuple[int, ...] = (make_sqn(first, 0, bits),)
            e = tuple(generate_eutran_vectors(m, None, sqns, amf, [draw(16)], serving_network))
            return Vectors(e, (), (), sqns, status)
        sqns = tuple(make_sqn(first + i, 0, bits) for i in range(eutran + utran + geran))
        e = tuple(generate_eutran_vectors(m, None, sqns[:eutran], amf, [draw(16) for _ in range(eutran)],
                                          serving_network)) if eutran else ()
        u = tuple(generate_umts_vector(m, None, sqns[eutran + i], amf, draw(16)) for i in range(utran))
        g = tuple(geran_from_umts(generate_umts_vector(m, None, sqns[eutran + utran + i], amf, draw(16)))
                  for i in range(geran))
        return Vectors(e, u, g, sqns, status)
