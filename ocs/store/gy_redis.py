"""Redis side of Gy sessions: the session lookup and the one-script CCR (ocs/store/lua/gy_ccr.lua).

Keys (besides the account's, see ocs/store/charging_redis.py):
  <p>:gysid:{<session id>}        string, the account of a live Gy session (expires with the session)
  <p>:{account}:gys               hash session id -> peer|realm|last request number|start ms|rg:used:charged:from_b,...
  <p>:{account}:req:gy:<sid>:<n>  string, the reply to CC-Request-Number n (answers a retransmission)
  <p>:gysidx[:{slot tag}]         zset account\\x1fsession by the deadline (ms) past which the reaper closes it
A session of a second ocsd process sharing this Redis is served the same: nothing of it lives in memory.
"""

from __future__ import annotations

import asyncio
import json
from typing import Any, cast

from ocs.charging.errors import UnknownSubscriber, error_from_reply
from ocs.store.redis_client import RedisStore, ReplyError
from ocs.subscribers.errors import Blocked, UnknownSession

SEP = "\x1f"


def session_lookup_key(store: RedisStore, session_id: str) -> str:
    return f"{store.prefix}:gysid:{{{session_id}}}"


class GyRedis:
    def __init__(self, store: RedisStore, *, session_lifetime: int, answer_ttl: int) -> None:
        self.store = store
        self.session_lifetime = session_lifetime  # seconds: Validity-Time + grace
        self.answer_ttl = answer_ttl

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
        found = await self.store.pipeline.call("GET", session_lookup_key(self.store, session_id))
        if found is None:
            return None
        return found.decode() if isinstance(found, bytes) else str(found)

    async def ccr(self, account: str, session_id: str, request_type: int, request_number: int, peer: str,
                  realm: str, items: list[dict[str, Any]], now_ms: int) -> dict[str, Any]:
        s = self.store
        params = json.dumps({"account": account, "session": session_id, "type": request_type, "n": request_number,
                             "peer": peer, "realm": realm, "now": now_ms // 1000, "ts": now_ms,
                             "deadline": now_ms + self.session_lifetime * 1000, "ttl": self.answer_ttl,
                             "items": items}, separators=(",", ":"))
        keys = [s.key(account, "acct"), s.key(account, "rsv"), s.slot_key(account, "ledger"),
                s.key(account, f"req:gy:{session_id}:{request_number}"), s.slot_key(account, "rsvidx"),
                s.key(account, "gys"), s.slot_key(account, "gysidx")]
        lookup = session_lookup_key(s, session_id)
        p = s.pipeline
        # the lookup is issued in the same event-loop turn as the script: one round trip (auto-pipelining)
        side = (p.call("DEL", lookup) if request_type == 3
                else p.call("SET", lookup, account, "EX", self.session_lifetime))
        results: tuple[Any, ...] = await asyncio.gather(s.evalsha("gy_ccr", keys, [params]), side,
                                                        return_exceptions=True)
        reply = results[0]
        if isinstance(reply, ReplyError):
            message = str(reply)
            if message.startswith("OCS unknown_session"):
                raise UnknownSession(session_id) from None
            if message.startswith("OCS blocked"):
                raise Blocked(account) from None
            mapped = error_from_reply(message)
            raise (mapped or reply) from None
        if isinstance(reply, BaseException):
            raise reply
        return cast(dict[str, Any], json.loads(reply))


__all__ = ["GyRedis", "session_lookup_key"]
