"""Redis side of Gx (PCEF) sessions (issue 10 point 2): one script call per CCR (ocs/store/lua/gx_session.lua).

Keys:
  <p>:gxs:{<session id>}   hash peer, realm, imsi, apn, ip, plan, throttled, type, n, closed: the session (expires
                           `lifetime` s after its last CCR; an ended one is kept `answer_ttl` s for a retransmitted
                           CCR-T)
  <p>:gxi:{<imsi>}         set of the subscriber's live session ids (the RARs of fair use find them here)
  <p>:gxa:{<account>}      set of the live session ids of the account's SIMs (fair use throttles an account)
  <p>:gxall                set of every live session id (`ocsd session list --app gx`)
A session of a second ocsd process sharing this Redis is served the same: nothing of it lives in memory.
"""

from __future__ import annotations

import json
from typing import Any

from ocs.store.redis_client import RedisStore, ReplyError
from ocs.subscribers.errors import UnknownSession


def _s(v: Any) -> str:
    return v.decode() if isinstance(v, bytes) else str(v)


class GxRedis:
    def __init__(self, store: RedisStore, *, lifetime: int, answer_ttl: int) -> None:
        self.store = store
        self.lifetime = lifetime
        self.answer_ttl = answer_ttl

    def session_key(self, session_id: str) -> str:
        return f"{self.store.prefix}:gxs:{{{session_id}}}"

    def imsi_key(self, imsi: str) -> str:
        return f"{self.store.prefix}:gxi:{{{imsi}}}"

    def account_key(self, account: str) -> str:
        return f"{self.store.prefix}:gxa:{{{account}}}"

    @property
    def all_key(self) -> str:
        return f"{self.store.prefix}:gxall"

    async def _script(self, session_id: str, params: dict[str, Any]) -> dict[str, str]:
        try:
            raw = await self.store.evalsha("gx_session", [self.session_key(session_id)], [json.dumps(params)])
        except ReplyError as e:
            if str(e).startswith("OCS unknown_session"):
                raise UnknownSession(session_id) from None
            raise
        return {k: str(v) for k, v in json.loads(_s(raw)).items()}

    async def open(self, session_id: str, n: int, fields: dict[str, str]) -> dict[str, str]:
        """A CCR-I: the session stored (or, for a retransmission, what the first CCR-I stored: "dup" = "1")."""
        s = await self._script(session_id, {"op": "open", "n": n, "ttl": self.lifetime,
                                            "done_ttl": self.answer_ttl, "fields": fields})
        p = self.store.pipeline
        await p.call("SADD", self.imsi_key(s["imsi"]), session_id)
        await p.call("SADD", self.all_key, session_id)
        if s.get("account"):
            await p.call("SADD", self.account_key(s["account"]), session_id)
        return s

    async def update(self, session_id: str, n: int) -> dict[str, str]:
        return await self._script(session_id, {"op": "update", "n": n, "ttl": self.lifetime,
                                               "done_ttl": self.answer_ttl})

    async def close(self, session_id: str, n: int) -> dict[str, str]:
        s = await self._script(session_id, {"op": "close", "n": n, "ttl": self.lifetime,
                                            "done_ttl": self.answer_ttl})
        p = self.store.pipeline
        await p.call("SREM", self.imsi_key(s["imsi"]), session_id)
        await p.call("SREM", self.all_key, session_id)
        if s.get("account"):
            await p.call("SREM", self.account_key(s["account"]), session_id)
        return s

    async def get(self, session_id: str) -> dict[str, str] | None:
        raw = await self.store.pipeline.call("HGETALL", self.session_key(session_id))
        if not raw:
            return None
        if isinstance(raw, dict):
            s = {_s(k): _s(v) for k, v in raw.items()}
        else:
            s = {_s(raw[i]): _s(raw[i + 1]) for i in range(0, len(raw), 2)}
        return None if s.get("closed") == "1" else s

    async def _indexed(self, index: str) -> dict[str, dict[str, str]]:
        """The live sessions of an index set (ids whose session expired meanwhile are dropped from it)."""
        out: dict[str, dict[str, str]] = {}
        for sid in [_s(x) for x in await self.store.pipeline.call("SMEMBERS", index) or ()]:
            s = await self.get(sid)
            if s is None:
                await self.store.pipeline.call("SREM", index, sid)
            else:
                out[sid] = s
        return out

    async def sessions_of(self, imsi: str) -> dict[str, dict[str, str]]:
        return await self._indexed(self.imsi_key(imsi))

    async def sessions_of_account(self, account: str) -> dict[str, dict[str, str]]:
        return await self._indexed(self.account_key(account))

    async def all_sessions(self) -> dict[str, dict[str, str]]:
        return await self._indexed(self.all_key)

    async def set_fields(self, session_id: str, fields: dict[str, str]) -> None:
        args: list[str] = []
        for k, v in fields.items():
            args += [k, v]
        await self.store.pipeline.call("HSET", self.session_key(session_id), *args)


__all__ = ["GxRedis"]
