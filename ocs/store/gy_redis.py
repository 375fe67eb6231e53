"""Redis side of Gy sessions: the session lookup and the one-script CCR (ocs/store/lua/gy_ccr.lua).

Keys (besides the account's, see ocs/store/charging_redis.py):
  <p>:gysid:{<session id>}        string, the account of a live Gy session (expires with the session)
  <p>:{account}:gys               hash session id -> peer|realm|last request n|start ms|usage|imsi|msisdn|final
                                  |last RAR|terminating (usage: rg:used:charged:from_b,...; final: the last CCR
                                  got a last grant, 4012 or 4010; last RAR: result;at ms;peer; terminating: 1
                                  after an ASA 2001, see gy_mark.lua)
  <p>:{account}:req:gy:<sid>:<n>  string, the reply to CC-Request-Number n (answers a retransmission)
  <p>:gysidx[:{slot tag}]         zset account\\x1fsession by the deadline (ms) past which the reaper closes it
  <p>:cdr[:{slot tag}]            stream of the records of closed sessions (ocs/store/cdrs.py writes them behind)
A session of a second ocsd process sharing this Redis is served the same: nothing of it lives in memory.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from datetime import UTC, datetime
from json.encoder import encode_basestring_ascii as _q
from typing import Any, cast

from ocs.charging.errors import UnknownSubscriber, error_from_reply
from ocs.store.redis_client import RedisStore, ReplyError
from ocs.subscribers.errors import Blocked, UnknownSession

SEP = "\x1f"
MAX_REMEMBERED = 200_000  # sessions whose account this process keeps in memory


def session_lookup_key(store: RedisStore, session_id: str) -> str:
    return f"{store.prefix}:gysid:{{{session_id}}}"


def _mapped(error: ReplyError, session_id: str, account: str) -> Exception:
    """A script's refusal as the domain error the application's error table knows."""
    message = str(error)
    if message.startswith("OCS unknown_session"):
        return UnknownSession(session_id)
    if message.startswith("OCS blocked"):
        return Blocked(account)
    return error_from_reply(message) or error


def _rar(value: str) -> dict[str, Any] | None:
    """The last RAR's answer as recorded by gy_mark.lua ("result;at ms;peer"), None when none was sent."""
    if not value:
        return None
    result, at_ms, peer = value.split(";", 2)
    at = datetime.fromtimestamp(int(at_ms) / 1000, UTC).isoformat(timespec="milliseconds")
    return {"result_code": int(result), "at": at.replace("+00:00", "Z"), "at_ms": int(at_ms), "peer": peer}


class GyRedis:
    def __init__(self, store: RedisStore, *, session_lifetime: int, answer_ttl: int) -> None:
        self.store = store
        self.session_lifetime = session_lifetime  # seconds: Validity-Time + grace
        self.answer_ttl = answer_ttl
        # session id -> account of the sessions this process served (a session's account never changes, and a
        # session ended meanwhile is refused by the script all the same): a CCR-U/T is then one script call
        self._accounts: dict[str, str] = {}

    async def account_of(self, imsi: str | None, msisdn: str | None) -> str:
        """IMSI first (PEERS.md: both are sent; the IMSI is the SIM), then the MSISDN: one GET each."""
        p, prefix = self.store.pipeline, self.store.prefix
        for kind, value in (("imsi", imsi), ("msisdn", msisdn)):
            if value is not None:
                found = await p.call("GET", f"{prefix}:{kind}:{{{value}}}")
                if found is not None:
                    return found.decode() if isinstance(found, bytes) else str(found)
        raise UnknownSubscriber(imsi or msisdn or "")

    async def session_account(self, session_id: str) -> str | None:
        known = self._accounts.get(session_id)
        if known is not None:
            return known
        found = await self.store.pipeline.call("GET", session_lookup_key(self.store, session_id))
        if found is None:
            return None
        return found.decode() if isinstance(found, bytes) else str(found)

    def known_account(self, session_id: str) -> str | None:
        return self._accounts.get(session_id)

    def _remember(self, session_id: str, account: str | None) -> None:
        accounts = self._accounts
        if account is None:
            accounts.pop(session_id, None)
            return
        if len(accounts) >= MAX_REMEMBERED and session_id not in accounts:
            del accounts[next(iter(accounts))]  # the oldest
        accounts[session_id] = account

    async def ccr(self, account: str, session_id: str, request_type: int, request_number: int, peer: str,
                  realm: str, items: Sequence[dict[str, Any] | str], now_ms: int, imsi: str | None = None,
                  msisdn: str | None = None) -> dict[str, Any]:
        """One CCR in gy_ccr.lua; `items` as dicts, or already as JSON objects (ocs.apps.gy.Item.json)."""
        s = self.store
        # the parameters written directly (json.dumps of the whole object costs more than the script call)
        encoded = ",".join(i if isinstance(i, str) else json.dumps(i, separators=(",", ":")) for i in items)
        params = (f'{{"account":{_q(account)},"session":{_q(session_id)},"type":{request_type:d},'
                  f'"n":{request_number:d},"peer":{_q(peer)},"realm":{_q(realm)},"imsi":{_q(imsi or "")},'
                  f'"msisdn":{_q(msisdn or "")},"now":{now_ms // 1000:d},"ts":{now_ms:d},'
                  f'"deadline":{now_ms + self.session_lifetime * 1000:d},"ttl":{self.answer_ttl:d},'
                  f'"lifetime":{self.session_lifetime:d},"items":[{encoded}]}}')
        keys = [s.key(account, "acct"), s.key(account, "rsv"), s.slot_key(account, "ledger"),
                s.key(account, f"req:gy:{session_id}:{request_number}"), s.slot_key(account, "rsvidx"),
                s.key(account, "gys"), s.slot_key(account, "gysidx"), s.slot_key(account, "cdr")]
        lookup = session_lookup_key(s, session_id)
        if not s.cluster:  # one Redis: the script keeps the lookup key too (one call, one round trip)
            keys.append(lookup)
            try:
                reply = await s.evalsha("gy_ccr", keys, [params])
            except ReplyError as exc:
                raise _mapped(exc, session_id, account) from None
        else:  # the lookup key is in another slot: its own command, in the same event-loop turn (auto-pipelining)
            p = s.pipeline
            side = (p.call("DEL", lookup) if request_type == 3
                    else p.call("SET", lookup, account, "EX", self.session_lifetime))
            results: tuple[Any, ...] = await asyncio.gather(s.evalsha("gy_ccr", keys, [params]), side,
                                                            return_exceptions=True)
            reply = results[0]
            if isinstance(reply, ReplyError):
                raise _mapped(reply, session_id, account) from None
            if isinstance(reply, BaseException):
                raise reply
        self._remember(session_id, None if request_type == 3 else account)
        return cast(dict[str, Any], json.loads(reply))

    async def event(self, account: str, session_id: str, request_number: int, action: int, item: dict[str, Any],
                    peer: str, imsi: str | None, msisdn: str | None, now_ms: int) -> dict[str, Any]:
        """One CCR-E (gy_event.lua): debit, refund or balance check of `item`'s units."""
        s = self.store
        keys = [s.key(account, "acct"), s.slot_key(account, "ledger"),
                s.key(account, f"req:gy:{session_id}:{request_number}"), s.key(account, "refs"),
                s.slot_key(account, "cdr")]
        params = json.dumps({"account": account, "session": session_id, "n": request_number, "action": action,
                             "rg": item["rg"], "units": item["units"], "dim": item["dim"], "size": item["n"],
                             "price": item["price"], "cur": item["cur"], "now": now_ms // 1000, "ts": now_ms,
                             "ttl": self.answer_ttl, "peer": peer, "imsi": imsi or "", "msisdn": msisdn or ""},
                            separators=(",", ":"))
        try:
            reply = await s.evalsha("gy_event", keys, [params])
        except ReplyError as exc:
            raise _mapped(exc, session_id, account) from None
        return cast(dict[str, Any], json.loads(reply))

    async def close(self, account: str, session_id: str, cause: str, now_ms: int, before: int = 0) -> bool:
        """Close a session without CCR-T (gy_close.lua): reservations released, CDR recorded. `before` > 0: only
        when its deadline is still before that (the reaper). True when a session was closed."""
        s = self.store
        keys = [s.key(account, "acct"), s.key(account, "rsv"), s.key(account, "gys"), s.slot_key(account, "gysidx"),
                s.slot_key(account, "cdr")]
        params = json.dumps({"account": account, "session": session_id, "cause": cause, "ts": now_ms,
                             "before": before}, separators=(",", ":"))
        reply = json.loads(await s.evalsha("gy_close", keys, [params]))
        self._remember(session_id, None)
        if reply["closed"]:
            await s.pipeline.call("DEL", session_lookup_key(s, session_id))
        return bool(reply["closed"])

    async def mark(self, account: str, session_id: str, *, rar: tuple[int, int, str] | None = None,
                   terminating_until: int = 0) -> bool:
        """Record on a live session the RAA of a RAR (result code, time ms, peer), and/or that it is terminating
        (ASA 2001) with the deadline (ms) past which the reaper closes it. False when the session is gone."""
        s = self.store
        params = json.dumps({"account": account, "session": session_id, "deadline": terminating_until,
                             "rar": ";".join(map(str, rar)) if rar is not None else ""}, separators=(",", ":"))
        reply = await s.evalsha("gy_mark", [s.key(account, "gys"), s.slot_key(account, "gysidx")], [params])
        return bool(json.loads(reply)["found"])

    async def reap(self, now_ms: int, batch: int = 1000) -> int:
        """Close the sessions silent past their deadline (Validity-Time + grace). Returns sessions closed."""
        p = self.store.pipeline
        found = await asyncio.gather(*(p.call("ZRANGEBYSCORE", k, "-inf", now_ms, "LIMIT", 0, batch)
                                       for k in self.store.slot_keys("gysidx")))
        due = [(m.decode() if isinstance(m, bytes) else m).partition(SEP) for ms in found for m in ms or ()]
        done = await asyncio.gather(*(self.close(account, session_id, "reaped", now_ms, before=now_ms + 1)
                                      for account, _, session_id in due))
        return sum(done)

    async def live_sessions(self) -> int:
        p = self.store.pipeline
        return sum(await asyncio.gather(*(p.call("ZCARD", k) for k in self.store.slot_keys("gysidx"))))

    async def accounts_with_sessions(self) -> list[str]:
        """Accounts that hold a live session (from the reaper's index)."""
        p = self.store.pipeline
        found = await asyncio.gather(*(p.call("ZRANGE", k, 0, -1) for k in self.store.slot_keys("gysidx")))
        return sorted({(m.decode() if isinstance(m, bytes) else m).partition(SEP)[0] for ms in found for m in ms or ()})

    async def sessions(self, account: str) -> dict[str, dict[str, Any]]:
        """The live sessions of an account: session id -> peer, realm, last request number, start (ms), imsi,
        msisdn, usage per rating group, and the reservations held."""
        s = self.store
        states = await s.hgetall(s.key(account, "gys"))
        reservations = await s.hgetall(s.key(account, "rsv"))
        out: dict[str, dict[str, Any]] = {}
        for session_id, value in states.items():
            f = value.split("|")
            usage = []
            for part in filter(None, f[4].split(",")):
                rg, used, charged, from_b = part.split(":")
                usage.append({"rating_group": int(rg), "used": int(used), "charged": int(charged),
                              "from_bundles": int(from_b)})
            held = {}
            for rkey, r in reservations.items():
                sid, _, rg = rkey.partition(SEP)
                if sid == session_id:
                    held[int(rg)] = int(r.split("|")[0])
            f += [""] * (10 - len(f))
            out[session_id] = {"peer": f[0], "realm": f[1], "request_number": int(f[2]), "start_ms": int(f[3]),
                               "imsi": f[5], "msisdn": f[6], "final": f[7] == "1",
                               "state": "terminating" if f[9] == "1" else "open", "last_rar": _rar(f[8]),
                               "usage": usage, "reserved": held}
        return out


__all__ = ["GyRedis", "session_lookup_key"]
