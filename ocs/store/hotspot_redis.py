"""Redis side of the hotspot: an account's allowance (`<p>:{account}:hs`), its live sessions
(`<p>:{account}:hss`), the voucher -> account identity index, the live-session index the reaper reads and the
stream of closed sessions that housekeeping moves into PostgreSQL. Scripts: hs_login.lua, hs_acct.lua."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, cast

from ocs.store.redis_client import RedisStore

SEP = "\x1f"  # the session entry's field separator (hs_acct.lua)
LIVE, CLOSED = "hs:live", "hs:closed"


@dataclass(frozen=True, slots=True)
class LiveSession:
    account: str
    session_id: str
    input_octets: int
    output_octets: int
    session_time: int
    started: int
    last: int
    client: str
    user: str
    mac: str
    framed_ip: str
    nas_ip: str
    source: str  # the router's address the accounting came from (Disconnect/CoA go there)


def decode_session(account: str, session_id: str, value: str) -> LiveSession:
    f = value.split(SEP)
    return LiveSession(account, session_id, int(f[0]), int(f[1]), int(f[2]), int(f[3]), int(f[4]), f[5], f[6], f[7],
                       f[8], f[9], f[10] if len(f) > 10 else "")


class HotspotRedis:
    def __init__(self, store: RedisStore) -> None:
        self.store = store

    def identity_key(self, kind: str, value: str) -> str:
        """`kind`: "voucher" (a voucher code) or "hsuser" (a hotspot user name: an MSISDN)."""
        return f"{self.store.prefix}:{kind}:{{{value}}}"

    async def _run(self, script: str, keys: list[str], params: dict[str, Any]) -> dict[str, Any]:
        reply = await self.store.evalsha(script, keys, [json.dumps(params, separators=(",", ":"))])
        return cast(dict[str, Any], json.loads(reply))

    async def account_of(self, kind: str, value: str) -> str | None:
        found = await self.store.pipeline.call("GET", self.identity_key(kind, value))
        return None if found is None else str(found)

    async def provision(self, account: str, kind: str, user: str, password: str, *, time_seconds: int,
                        data_octets: int | None, rate_limit: str, validity_hours: int, devices: int,
                        bind_mac: bool, mac: str = "") -> None:
        """A fresh allowance for `account`, and `user` -> `account` in the identity index; `mac` binds it to a
        device from the start (bought on the captive portal), else the first device to log in when `bind_mac`."""
        s = self.store
        await s.pipeline.call("HSET", s.key(account, "hs"), "pw", password, "t", time_seconds,
                              "d", -1 if data_octets is None else data_octets, "rate", rate_limit, "exp", 0,
                              "vh", validity_hours, "dev", devices, "bind", int(bind_mac or bool(mac)), "mac", mac,
                              "user", user)
        await s.pipeline.call("SET", self.identity_key(kind, user), account)

    async def login(self, account: str, now: int, mac: str, commit: bool) -> dict[str, Any]:
        s = self.store
        return await self._run("hs_login", [s.key(account, "hs"), s.key(account, "hss"), s.key(account, "acct")],
                               {"now": now, "mac": mac, "commit": int(commit)})

    async def account_request(self, account: str, params: dict[str, Any]) -> dict[str, Any]:
        s = self.store
        params["account"] = account
        return await self._run("hs_acct", [s.key(account, "hs"), s.key(account, "hss"), s.slot_key(account, LIVE),
                                           s.slot_key(account, CLOSED)], params)

    async def allowance(self, account: str) -> dict[str, str]:
        return await self.store.hgetall(self.store.key(account, "hs"))

    async def sessions(self, account: str) -> list[LiveSession]:
        raw = await self.store.hgetall(self.store.key(account, "hss"))
        return [decode_session(account, sid, v) for sid, v in sorted(raw.items())]

    async def live_members(self, max_deadline: float | str = "+inf") -> list[tuple[str, str]]:
        """(account, session id) of live sessions whose reaper deadline is at most `max_deadline`."""
        out: list[tuple[str, str]] = []
        for key in self.store.slot_keys(LIVE):
            members = await cast(Any, self.store.client).zrangebyscore(key, "-inf", max_deadline)
            for m in members:
                account, _, sid = m.partition("|")
                out.append((account, sid))
        return out

    async def postpone(self, account: str, session_id: str, deadline: int) -> None:
        """Move a live session's reaper deadline (after a Disconnect the router did not answer)."""
        await self.store.pipeline.call("ZADD", self.store.slot_key(account, LIVE), "XX", deadline,
                                       f"{account}|{session_id}")

    async def read_closed(self, count: int = 500) -> list[tuple[str, str, dict[str, str]]]:
        """Closed-session records not yet in PostgreSQL: (stream key, entry id, fields)."""
        out = []
        for key in self.store.slot_keys(CLOSED):
            for entry_id, fields in await cast(Any, self.store.client).xrange(key, "-", "+", count):
                out.append((key, entry_id, fields))
        return out

    async def ack_closed(self, key: str, ids: list[str]) -> None:
        if ids:
            await cast(Any, self.store.client).xdel(key, *ids)


__all__ = ["HotspotRedis", "LiveSession", "decode_session"]
