"""Redis side of the charging operations: one Lua script call per operation (ocs/store/lua/*.lua).

Keys of an account (hash tag = account id, so every script touches one slot):
  <p>:{account}:acct      hash bal, held, cur, seq, and B<bundle id> -> code|prio|exp|d|v|s|r|hd|hv|hs|hr per bundle
  <p>:{account}:rsv       hash <session>\\x1f<rating group> -> reservation
  <p>:{account}:refs      hash caller reference -> seq|kind|amount (idempotency of money operations)
  <p>:{account}:gifts     hash gift id -> pending gift (sender side, until the recipient half is done)
  <p>:{account}:req:<id>  string, the result of a commit, kept `request_ttl` seconds (retransmissions)
Identity index (who pays for a SIM; read on the hot path instead of PostgreSQL):
  <p>:imsi:{<imsi>}      string, the account id of the SIM with this IMSI
  <p>:msisdn:{<msisdn>}  string, the account id of the SIM with this MSISDN
Per slot (tag hashing to the account's slot):
  <p>:ledger:{t}       stream of ledger entries, drained into PostgreSQL by ocs/store/ledger.py
  <p>:rsvidx:{t}       zset account id scored at or before its oldest reservation (ms): the reaper's work list
  <p>:expidx:{t}       zset account by earliest bundle expiry (s): the expiry sweeper's work list
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from json.encoder import encode_basestring_ascii as _q
from typing import Any, cast

from ocs.charging.errors import CurrencyMismatch, UnknownSubscriber, error_from_reply
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

    async def _run(self, script: str, keys: list[str], params: dict[str, Any] | str) -> dict[str, Any]:
        """Call a script with its parameters as one JSON object (ARGV[1]: a dict, or on the hot path the JSON
        text made by `_usage_params`); its reply is one JSON object."""
        if not isinstance(params, str):
            params = json.dumps(params, separators=(",", ":"))
        try:
            reply = await self.store.evalsha(script, keys, [params])
        except ReplyError as exc:
            mapped = error_from_reply(str(exc))
            if mapped is None:
                raise
            raise mapped from None
        return cast(dict[str, Any], json.loads(reply))

    # ---- accounts and the identity index
    async def open_account(self, account: str, currency: str, seq: int = 0) -> bool:
        """Open the account (balance 0) in one script; True when opened now, False when it was open in
        `currency` already (CurrencyMismatch for another currency). `seq` continues PostgreSQL's numbering."""
        reply = await self._run("open", [self.store.key(account, "acct")], {"currency": currency, "seq": seq})
        if reply["currency"] != currency:
            raise CurrencyMismatch(f"account {account} is in {reply['currency']}")
        return bool(reply["opened"])

    def identity_key(self, kind: str, value: str) -> str:
        """`kind` is "imsi" or "msisdn" (later "voucher", "user")."""
        return f"{self.store.prefix}:{kind}:{{{value}}}"

    async def link(self, account: str, imsi: str, msisdn: str) -> None:
        """Point a SIM's IMSI and MSISDN at `account` in the identity index."""
        p = self.store.pipeline
        await asyncio.gather(p.call("SET", self.identity_key("imsi", imsi), account),
                             p.call("SET", self.identity_key("msisdn", msisdn), account))

    async def unlink(self, imsi: str, msisdn: str) -> None:
        await self.store.pipeline.call("DEL", self.identity_key("imsi", imsi), self.identity_key("msisdn", msisdn))

    async def account_of(self, kind: str, value: str) -> str:
        """The account id behind an identity (one GET, no PostgreSQL); UnknownSubscriber when none is linked."""
        found = await self.store.pipeline.call("GET", self.identity_key(kind, value))
        if found is None:
            raise UnknownSubscriber(value)
        return found.decode() if isinstance(found, bytes) else str(found)

    async def account(self, account: str) -> AccountView | None:
        s = self.store
        acct = await s.hgetall(s.key(account, "acct"))
        if not acct or "bal" not in acct:
            return None
        limits = {k[1:]: tuple(int(x) for x in v.split(",") if x) for k, v in acct.items() if k.startswith("G")}
        views = sorted((dataclasses.replace(decode_bundle(k[1:], v), rating_groups=limits.get(k[1:], ()))
                        for k, v in acct.items() if k.startswith("B")),
                       key=lambda b: (b.priority, b.expires_at, b.bundle_id))
        return AccountView(account, acct["cur"], int(acct["bal"]), int(acct["held"]), tuple(views))

    # ---- money
    async def money(self, account: str, kind: str, amount: int, ref: str, now_ms: int,
                    detail: dict[str, Any] | None = None, gift_id: str = "", gift_record: str = "") -> MoneyResult:
        s = self.store
        reply = await self._run("money", [s.key(account, "acct"), s.slot_key(account, "ledger"), s.key(account, "refs"),
                                          s.key(account, "gifts")],
                                {"account": account, "kind": kind, "amount": amount, "ref": ref, "ts": now_ms,
                                 "detail": _detail(detail), "gift": gift_id, "gift_record": gift_record})
        return MoneyResult(reply["entry"], reply["balance"], bool(reply["duplicate"]))

    async def activate(self, account: str, kind: str, price: int, ref: str, now_ms: int, code: str, priority: int,
                       expires_at: int, allowances: Allowances, extra: dict[str, Any] | None = None,
                       rating_groups: tuple[int, ...] = ()) -> PurchaseResult:
        s = self.store
        reply = await self._run(
            "activate",
            [s.key(account, "acct"), s.slot_key(account, "ledger"), s.key(account, "refs"),
             s.slot_key(account, "expidx")],
            {"account": account, "kind": kind, "price": price, "ref": ref, "ts": now_ms, "code": code,
             "priority": priority, "expires_at": expires_at, "d": allowances.data_octets,
             "v": allowances.voice_seconds, "s": allowances.sms_count, "r": allowances.roaming_data_octets,
             "extra": _extra_members(extra), "rgs": ",".join(map(str, rating_groups))})
        return PurchaseResult(reply["entry"], reply["bundle_id"], reply["balance"], bool(reply["duplicate"]))

    async def pending_gifts(self, account: str) -> dict[str, str]:
        return await self.store.hgetall(self.store.key(account, "gifts"))

    async def gift_done(self, account: str, gift_id: str) -> None:
        await self.store.pipeline.call("HDEL", self.store.key(account, "gifts"), gift_id)

    # ---- usage
    async def reserve(self, account: str, rkey: str, units: int, dimension: Dimension | None, unit_size: int,
                      price: int, now: int, now_ms: int, currency: str | None = None) -> Grant:
        s = self.store
        reply = await self._run(
            "reserve",
            [s.key(account, "acct"), s.key(account, "rsv"), s.slot_key(account, "rsvidx")],
            _usage_params(account, rkey, dimension, unit_size, price, currency, now, now_ms, f',"units":{units:d}'))
        return Grant(reply["granted"], reply["from_bundles"], reply["from_balance"], reply["money_held"])

    async def commit(self, account: str, rkey: str, used: int, dimension: Dimension | None, unit_size: int, price: int,
                     now: int, now_ms: int, request_id: str, rating_group: int,
                     currency: str | None = None) -> CommitResult:
        s = self.store
        reply = await self._run(
            "commit",
            [s.key(account, "acct"), s.key(account, "rsv"), s.slot_key(account, "ledger"),
             s.key(account, "req:" + request_id)],
            _usage_params(account, rkey, dimension, unit_size, price, currency, now, now_ms,
                          f',"used":{used:d},"req":{_q(request_id)},"ttl":{self.request_ttl:d},"rg":{rating_group:d}'))
        return _committed(reply)

    async def update(self, account: str, rkey: str, used: int, wanted: int, dimension: Dimension | None, unit_size: int,
                     price: int, now: int, now_ms: int, request_id: str, rating_group: int,
                     currency: str | None = None) -> UpdateResult:
        s = self.store
        reply = await self._run(
            "update",
            [s.key(account, "acct"), s.key(account, "rsv"), s.slot_key(account, "ledger"),
             s.key(account, "req:" + request_id), s.slot_key(account, "rsvidx")],
            _usage_params(account, rkey, dimension, unit_size, price, currency, now, now_ms,
                          f',"used":{used:d},"wanted":{wanted:d},"req":{_q(request_id)},"ttl":{self.request_ttl:d}'
                          f',"rg":{rating_group:d}'))
        grant = Grant(reply["granted"], reply["granted_from_bundles"], reply["granted_from_balance"],
                      reply["money_held"]) if reply["granted"] else None
        return UpdateResult(_committed(reply), grant)

    async def release(self, account: str, rkey: str) -> int:
        s = self.store
        reply = await self._run("release", [s.key(account, "acct"), s.key(account, "rsv")],
                                {"account": account, "rkey": rkey})
        return int(reply["released"])

    async def reap_subscriber(self, account: str, older_than_ms: int) -> int:
        s = self.store
        reply = await self._run("reap", [s.key(account, "acct"), s.key(account, "rsv"), s.slot_key(account, "rsvidx")],
                                {"account": account, "cutoff": older_than_ms})
        return int(reply["released"])

    async def reservations(self, account: str) -> dict[str, str]:
        return await self.store.hgetall(self.store.key(account, "rsv"))

    async def reap(self, older_than_ms: int, batch: int = 1000) -> int:
        """Release every reservation made before `older_than_ms` (all slots). Returns units released."""
        s = self.store
        released = 0
        found = await asyncio.gather(*(s.pipeline.call("ZRANGEBYSCORE", k, "-inf", f"({older_than_ms}", "LIMIT", 0,
                                                      batch) for k in s.slot_keys("rsvidx")))
        members = [m for ms in found for m in ms]
        released += int(sum(await _gather([self.reap_subscriber(m, older_than_ms) for m in members])))
        return released

    async def expire(self, account: str, now: int, now_ms: int) -> int:
        s = self.store
        reply = await self._run(
            "expire",
            [s.key(account, "acct"), s.slot_key(account, "ledger"), s.slot_key(account, "expidx")],
            {"account": account, "now": now, "ts": now_ms})
        return int(reply["removed"])

    async def sweep_expired(self, now: int, now_ms: int, batch: int = 1000) -> int:
        """Expire bundles of every subscriber whose earliest expiry is due (all slots). Returns bundles removed."""
        s = self.store
        removed = 0
        found = await asyncio.gather(*(s.pipeline.call("ZRANGEBYSCORE", k, "-inf", now, "LIMIT", 0, batch)
                                       for k in s.slot_keys("expidx")))
        removed += int(sum(await _gather([self.expire(m, now, now_ms) for ms in found for m in ms])))
        return removed

    # ---- rebuild
    async def wipe(self, account: str) -> None:
        """Delete the subscriber's own keys (not the per-slot streams and indexes)."""
        s = self.store
        keys = [s.key(account, n) for n in ("acct", "rsv", "refs", "gifts")]
        async for key in s.client.scan_iter(match=s.key(account, "req:*"), count=1000):
            keys.append(key)
        await s.client.delete(*keys)
        await s.client.zrem(s.slot_key(account, "expidx"), account)

    async def restore(self, account: str, currency: str, balance: int, seq: int, bundles: list[ActiveBundle],
                      refs: dict[str, str], pending_gifts: dict[str, str], *,
                      flags: dict[str, str] | None = None) -> None:
        """Replace the subscriber's state in one MULTI (one slot): the rebuild's last step. `flags`: the
        refusal fields of the account's hash (ocs.store.account_status)."""
        s = self.store
        async with s.client.pipeline(transaction=True) as pipe:
            pipe.delete(*[s.key(account, n) for n in ("acct", "rsv", "refs", "gifts")])
            acct: dict[str, str | int] = {"cur": currency, "bal": balance, "held": 0, "seq": seq}
            acct.update({f"B{b.bundle_id}": encode_bundle(b) for b in bundles})
            acct.update({f"G{b.bundle_id}": ",".join(map(str, b.rating_groups)) for b in bundles if b.rating_groups})
            acct.update(flags or {})
            cast(Any, pipe).hset(s.key(account, "acct"), mapping=acct)
            if bundles:
                pipe.zadd(s.slot_key(account, "expidx"), {account: min(b.expires_at for b in bundles)})
            if refs:
                cast(Any, pipe).hset(s.key(account, "refs"), mapping=refs)
            if pending_gifts:
                cast(Any, pipe).hset(s.key(account, "gifts"), mapping=pending_gifts)
            await pipe.execute()


def _usage_params(account: str, rkey: str, dimension: Dimension | None, unit_size: int, price: int,
                  currency: str | None, now: int, now_ms: int, more: str) -> str:
    """The JSON parameters of reserve/commit/update, written directly (json.dumps costs more than the script
    call on the hot path); strings go through the C string encoder, numbers are ints."""
    return (f'{{"account":{_q(account)},"rkey":{_q(rkey)},"dim":"{dimension.value if dimension else ""}",'
            f'"n":{unit_size:d},"price":{price:d},"cur":{_q(currency) if currency else "null"},"now":{now:d},'
            f'"ts":{now_ms:d}{more}}}')


def _committed(reply: dict[str, Any]) -> CommitResult:
    return CommitResult(reply["charged"], reply["from_bundles"], reply["from_balance"], reply["unpaid"],
                        reply["entry"], bool(reply["duplicate"]))


async def _gather(calls: list[Any]) -> list[Any]:
    """Run per-account script calls together (reaper, expiry sweep). Each runs to its end, so one account's
    failure does not stop the others; then the first failure is raised. A refused call (ChargingError) is an
    error the caller must see, never a count of 0."""
    results = await asyncio.gather(*calls, return_exceptions=True)
    for r in results:
        if isinstance(r, BaseException):
            raise r
    return results


__all__ = ["SLOTS", "ChargingRedis", "decode_bundle", "encode_bundle", "reservation_key", "slot_tag"]
