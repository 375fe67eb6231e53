"""Redis side of the charging operations: one Lua script call per operation (ocs/store/lua/*.lua).

Keys of a subscriber (hash tag = IMSI):
  <p>:{imsi}:acct      hash bal, held, cur, seq, and B<bundle id> -> code|prio|exp|d|v|s|r|hd|hv|hs|hr per bundle
  <p>:{imsi}:rsv       hash <session>\\x1f<rating group> -> reservation
  <p>:{imsi}:refs      hash caller reference -> seq|kind|amount (idempotency of money operations)
  <p>:{imsi}:gifts     hash gift id -> pending gift (sender side, until the recipient half is done)
  <p>:{imsi}:req:<id>  string, the result of a commit, kept `request_ttl` seconds (retransmissions)
Per slot (tag hashing to the IMSI's slot):
  <p>:ledger:{t}       stream of ledger entries, drained into PostgreSQL by ocs/store/ledger.py
  <p>:rsvidx:{t}       zset imsi scored at or before its oldest reservation (ms): the reaper's work list
  <p>:expidx:{t}       zset imsi by earliest bundle expiry (s): the expiry sweeper's work list
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

from ocs.charging.errors import ChargingError, error_from_reply
from ocs.charging.model import (
    AccountView,
    ActiveBundle,
    Allowances,
    CommitResult,
    Dimension,
    Grant,
    MoneyResult,
    PurchaseResult,
    UpdateResult,
)
from ocs.store.redis_client import SLOTS, RedisStore, ReplyError, slot_tag

RKEY_SEP = "\x1f"
DEFAULT_REQUEST_TTL = 900


def reservation_key(session_id: str, rating_group: int) -> str:
    return f"{session_id}{RKEY_SEP}{rating_group}"


def _detail(extra: dict[str, Any] | None) -> str:
    return json.dumps(extra or {}, separators=(",", ":"), sort_keys=True)


def _extra_members(extra: dict[str, Any] | None) -> str:
    """`{"a":1}` -> `,"a":1` to append to the JSON object a script builds."""
    if not extra:
        return ""
    return "," + _detail(extra)[1:-1]


def decode_bundle(bundle_id: str, value: str) -> ActiveBundle:
    f = value.split("|")
    return ActiveBundle(
        bundle_id=int(bundle_id), code=f[0], priority=int(f[1]), expires_at=int(f[2]),
        remaining=Allowances(int(f[3]), int(f[4]), int(f[5]), int(f[6])),
        held=Allowances(int(f[7]), int(f[8]), int(f[9]), int(f[10])))


def encode_bundle(b: ActiveBundle) -> str:
    r, h = b.remaining, b.held
    return "|".join(str(x) for x in (b.code, b.priority, b.expires_at, r.data_octets, r.voice_seconds, r.sms_count,
                                     r.roaming_data_octets, h.data_octets, h.voice_seconds, h.sms_count,
                                     h.roaming_data_octets))


class ChargingRedis:
    def __init__(self, store: RedisStore, request_ttl: int = DEFAULT_REQUEST_TTL) -> None:
        self.store = store
        self.request_ttl = request_ttl

    async def _run(self, script: str, keys: list[str], args: list[Any]) -> Any:
        try:
            return await self.store.evalsha(script, keys, args)
        except ReplyError as exc:
            mapped = error_from_reply(str(exc))
            if mapped is None:
                raise
            raise mapped from None

    # ---- accounts
    async def open_account(self, imsi: str, currency: str, seq: int = 0) -> bool:
        """Create the account hash if absent (balance 0); `seq` continues the ledger numbering of PostgreSQL."""
        key = self.store.key(imsi, "acct")
        created = await self.store.client.hsetnx(key, "cur", currency)
        if created:
            await self.store.client.hset(key, mapping={"bal": 0, "held": 0, "seq": seq})
        return bool(created)

    async def account(self, imsi: str) -> AccountView | None:
        s = self.store
        acct = await s.hgetall(s.key(imsi, "acct"))
        if not acct or "bal" not in acct:
            return None
        views = sorted((decode_bundle(k[1:], v) for k, v in acct.items() if k.startswith("B")),
                       key=lambda b: (b.priority, b.expires_at, b.bundle_id))
        return AccountView(imsi, acct["cur"], int(acct["bal"]), int(acct["held"]), tuple(views))

    # ---- money
    async def money(self, imsi: str, kind: str, amount: int, ref: str, now_ms: int,
                    detail: dict[str, Any] | None = None, gift_id: str = "", gift_record: str = "") -> MoneyResult:
        s = self.store
        reply = await self._run("money", [s.key(imsi, "acct"), s.slot_key(imsi, "ledger"), s.key(imsi, "refs"),
                                          s.key(imsi, "gifts")],
                                [imsi, kind, amount, ref, now_ms, _detail(detail), gift_id, gift_record])
        return MoneyResult(reply[0], int(reply[1]), bool(reply[2]))

    async def activate(self, imsi: str, kind: str, price: int, ref: str, now_ms: int, code: str, priority: int,
                       expires_at: int, allowances: Allowances, extra: dict[str, Any] | None = None) -> PurchaseResult:
        s = self.store
        reply = await self._run(
            "activate",
            [s.key(imsi, "acct"), s.slot_key(imsi, "ledger"), s.key(imsi, "refs"), s.slot_key(imsi, "expidx")],
            [imsi, kind, price, ref, now_ms, code, priority, expires_at, allowances.data_octets,
             allowances.voice_seconds, allowances.sms_count, allowances.roaming_data_octets, _extra_members(extra)])
        return PurchaseResult(reply[0], int(reply[1]), int(reply[2]), bool(reply[3]))

    async def pending_gifts(self, imsi: str) -> dict[str, str]:
        return await self.store.hgetall(self.store.key(imsi, "gifts"))

    async def gift_done(self, imsi: str, gift_id: str) -> None:
        await self.store.pipeline.call("HDEL", self.store.key(imsi, "gifts"), gift_id)

    # ---- usage
    async def reserve(self, imsi: str, rkey: str, units: int, dimension: Dimension | None, unit_size: int,
                      price: int, now: int, now_ms: int) -> Grant:
        s = self.store
        reply = await self._run(
            "reserve",
            [s.key(imsi, "acct"), s.key(imsi, "rsv"), s.slot_key(imsi, "rsvidx")],
            [imsi, rkey, units, dimension.value if dimension else "", unit_size, price, now, now_ms])
        return Grant(*reply)

    async def commit(self, imsi: str, rkey: str, used: int, dimension: Dimension | None, unit_size: int, price: int,
                     now: int, now_ms: int, request_id: str, rating_group: int) -> CommitResult:
        s = self.store
        reply = await self._run(
            "commit",
            [s.key(imsi, "acct"), s.key(imsi, "rsv"), s.slot_key(imsi, "ledger"), s.key(imsi, "req:" + request_id)],
            [imsi, rkey, used, dimension.value if dimension else "", unit_size, price, now, now_ms, request_id,
             self.request_ttl, rating_group])
        return CommitResult(reply[0], reply[1], reply[2], reply[3], reply[4], bool(reply[5]))

    async def update(self, imsi: str, rkey: str, used: int, wanted: int, dimension: Dimension | None, unit_size: int,
                     price: int, now: int, now_ms: int, request_id: str, rating_group: int) -> UpdateResult:
        s = self.store
        reply = await self._run(
            "update",
            [s.key(imsi, "acct"), s.key(imsi, "rsv"), s.slot_key(imsi, "ledger"), s.key(imsi, "req:" + request_id),
             s.slot_key(imsi, "rsvidx")],
            [imsi, rkey, used, wanted, dimension.value if dimension else "", unit_size, price, now, now_ms, request_id,
             self.request_ttl, rating_group])
        committed = CommitResult(reply[0], reply[1], reply[2], reply[3], reply[4], bool(reply[5]))
        grant = Grant(reply[6], reply[7], reply[8], reply[9]) if reply[6] else None
        return UpdateResult(committed, grant)

    async def release(self, imsi: str, rkey: str) -> int:
        s = self.store
        reply = await self._run("release", [s.key(imsi, "acct"), s.key(imsi, "rsv")], [imsi, rkey])
        return int(reply)

    async def reap_subscriber(self, imsi: str, older_than_ms: int) -> int:
        s = self.store
        reply = await self._run("reap", [s.key(imsi, "acct"), s.key(imsi, "rsv"), s.slot_key(imsi, "rsvidx")],
                                [imsi, older_than_ms])
        return int(reply)

    async def reservations(self, imsi: str) -> dict[str, str]:
        return await self.store.hgetall(self.store.key(imsi, "rsv"))

    async def reap(self, older_than_ms: int, batch: int = 1000) -> int:
        """Release every reservation made before `older_than_ms` (all slots). Returns units released."""
        s = self.store
        released = 0
        found = await asyncio.gather(*(s.pipeline.call("ZRANGEBYSCORE", k, "-inf", f"({older_than_ms}", "LIMIT", 0,
                                                      batch) for k in s.slot_keys("rsvidx")))
        members = [m for ms in found for m in ms]
        released += int(sum(await _gather([self.reap_subscriber(m, older_than_ms) for m in members])))
        return released

    async def expire(self, imsi: str, now: int, now_ms: int) -> int:
        s = self.store
        reply = await self._run(
            "expire",
            [s.key(imsi, "acct"), s.slot_key(imsi, "ledger"), s.slot_key(imsi, "expidx")],
            [imsi, now, now_ms])
        return int(reply)

    async def sweep_expired(self, now: int, now_ms: int, batch: int = 1000) -> int:
        """Expire bundles of every subscriber whose earliest expiry is due (all slots). Returns bundles removed."""
        s = self.store
        removed = 0
        found = await asyncio.gather(*(s.pipeline.call("ZRANGEBYSCORE", k, "-inf", now, "LIMIT", 0, batch)
                                       for k in s.slot_keys("expidx")))
        removed += int(sum(await _gather([self.expire(m, now, now_ms) for ms in found for m in ms])))
        return removed

    # ---- rebuild
    async def wipe(self, imsi: str) -> None:
        """Delete the subscriber's own keys (not the per-slot streams and indexes)."""
        s = self.store
        keys = [s.key(imsi, n) for n in ("acct", "rsv", "refs", "gifts")]
        async for key in s.client.scan_iter(match=s.key(imsi, "req:*"), count=1000):
            keys.append(key)
        await s.client.delete(*keys)
        await s.client.zrem(s.slot_key(imsi, "expidx"), imsi)

    async def restore(self, imsi: str, currency: str, balance: int, seq: int, bundles: list[ActiveBundle],
                      refs: dict[str, str], pending_gifts: dict[str, str]) -> None:
        """Replace the subscriber's state in one MULTI (one slot): the rebuild's last step."""
        s = self.store
        async with s.client.pipeline(transaction=True) as pipe:
            pipe.delete(*[s.key(imsi, n) for n in ("acct", "rsv", "refs", "gifts")])
            acct: dict[str, str | int] = {"cur": currency, "bal": balance, "held": 0, "seq": seq}
            acct.update({f"B{b.bundle_id}": encode_bundle(b) for b in bundles})
            cast(Any, pipe).hset(s.key(imsi, "acct"), mapping=acct)
            if bundles:
                pipe.zadd(s.slot_key(imsi, "expidx"), {imsi: min(b.expires_at for b in bundles)})
            if refs:
                cast(Any, pipe).hset(s.key(imsi, "refs"), mapping=refs)
            if pending_gifts:
                cast(Any, pipe).hset(s.key(imsi, "gifts"), mapping=pending_gifts)
            await pipe.execute()


async def _gather(calls: list[Any]) -> list[Any]:
    results = await asyncio.gather(*calls, return_exceptions=True)
    out = []
    for r in results:
        if isinstance(r, ChargingError):
            out.append(0)
        elif isinstance(r, BaseException):
            raise r
        else:
            out.append(r)
    return out


__all__ = ["SLOTS", "ChargingRedis", "decode_bundle", "encode_bundle", "reservation_key", "slot_tag"]
