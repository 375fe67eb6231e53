"""Redis side of SMS billing: one script call per charge or outcome (ocs/store/lua/sms_charge.lua,
sms_result.lua), plus the small keys around them.

Keys of an account (hash tag = account id, the slot of its balance):
  <p>:{account}:sms              hash plan, refund (1: refund UNDELIV/REJECTD), rate, burst, tok, tts, n:<YYYYMM>
  <p>:{account}:smssnd           hash sender id -> pending | approved | rejected
  <p>:{account}:smsm:<message>   hash, the message's record (expires after [sms] record_ttl)
  <p>:{account}:smsd:<dispatch>  hash name, sent, parts, pending, delivered, failed, cost (live counters)
Indexes (their own slots; written before the charge, read by the consumers):
  <p>:smsidx:{<message id>}      string, the account charged for the message
  <p>:smsmap:{<SMSC msg id>}     string, our message id for the SMSC's id (Jasmin's submit_sm_resp smpp_msgid)
Per slot: <p>:smsrec:{t}        stream of record snapshots, moved into PostgreSQL by ocs/sms/records.py
"""

from __future__ import annotations

import json
from typing import Any, cast

from ocs.sms.errors import MessageConflict, sms_error_from_reply
from ocs.sms.pricing import Tiers
from ocs.store.redis_client import RedisStore, ReplyError


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value.decode() if isinstance(value, bytes) else str(value)


class SmsRedis:
    def __init__(self, store: RedisStore, record_ttl: int) -> None:
        self.store = store
        self.record_ttl = record_ttl

    async def _run(self, script: str, keys: list[str], params: dict[str, Any]) -> dict[str, Any]:
        try:
            reply = await self.store.evalsha(script, keys, [json.dumps(params, separators=(",", ":"))])
        except ReplyError as exc:
            mapped = sms_error_from_reply(str(exc))
            if mapped is None:
                raise
            raise mapped from None
        return cast(dict[str, Any], json.loads(reply))

    def index_key(self, message_id: str) -> str:
        return f"{self.store.prefix}:smsidx:{{{message_id}}}"

    def smpp_key(self, smpp_msgid: str) -> str:
        return f"{self.store.prefix}:smsmap:{{{smpp_msgid}}}"

    def record_key(self, account: str, message_id: str) -> str:
        return self.store.key(account, "smsm:" + message_id)

    def dispatch_key(self, account: str, dispatch_id: str) -> str:
        return self.store.key(account, "smsd:" + dispatch_id)

    # ---- the hot path
    async def claim(self, message_id: str, account: str) -> None:
        """Point the message id at the account (first claim wins); MessageConflict when another account has it."""
        before = await self.store.pipeline.call("SET", self.index_key(message_id), account, "NX", "GET", "EX",
                                                self.record_ttl)
        if before is not None and _text(before) != account:
            raise MessageConflict(f"message {message_id} is charged to another account")

    async def charge(self, account: str, message_id: str, destination: str, parts: int, sender: str, dispatch: str,
                     plans: dict[str, Tiers], currencies: dict[str, str], default_plan: str, month: str, ts: int,
                     rate: int, burst: int) -> dict[str, Any]:
        s = self.store
        sms = s.key(account, "sms")
        detail = json.dumps({"dest": destination, "parts": parts, "sender": sender, "dispatch": dispatch},
                            separators=(",", ":"), sort_keys=True)
        return await self._run(
            "sms_charge",
            [s.key(account, "acct"), s.slot_key(account, "ledger"), sms, s.key(account, "smssnd"),
             self.record_key(account, message_id), self.dispatch_key(account, dispatch) if dispatch else sms,
             s.slot_key(account, "smsrec")],
            {"account": account, "mid": message_id, "dest": destination, "parts": parts, "sender": sender,
             "dispatch": dispatch, "plans": {k: [list(t) for t in v] for k, v in plans.items()},
             "curs": currencies, "default_plan": default_plan, "month": month, "ts": ts, "rate": rate,
             "burst": burst, "ttl": self.record_ttl, "detail": detail})

    async def account_of_message(self, message_id: str) -> str | None:
        return _text(await self.store.pipeline.call("GET", self.index_key(message_id)))

    async def message_of_smpp(self, smpp_msgid: str) -> str | None:
        return _text(await self.store.pipeline.call("GET", self.smpp_key(smpp_msgid)))

    async def map_smpp(self, smpp_msgid: str, message_id: str) -> None:
        await self.store.pipeline.call("SET", self.smpp_key(smpp_msgid), message_id, "EX", self.record_ttl)

    async def result(self, account: str, message_id: str, kind: str, status: str, state: str, refundable: bool,
                     ts: int, smpp: str = "") -> dict[str, Any]:
        s = self.store
        return await self._run(
            "sms_result",
            [s.key(account, "acct"), s.slot_key(account, "ledger"), self.record_key(account, message_id),
             s.key(account, "sms"), s.slot_key(account, "smsrec")],
            {"account": account, "mid": message_id, "dprefix": s.key(account, "smsd:"), "kind": kind,
             "status": status, "state": state, "refundable": 1 if refundable else 0, "ts": ts, "smpp": smpp})

    # ---- reads
    async def message(self, account: str, message_id: str) -> dict[str, str]:
        return await self.store.hgetall(self.record_key(account, message_id))

    async def dispatch(self, account: str, dispatch_id: str) -> dict[str, str]:
        return await self.store.hgetall(self.dispatch_key(account, dispatch_id))

    async def account_settings(self, account: str) -> dict[str, str]:
        return await self.store.hgetall(self.store.key(account, "sms"))

    # ---- provisioning mirrors (PostgreSQL holds the record)
    async def set_account(self, account: str, plan: str, refund: bool, rate: int | None, burst: int | None) -> None:
        key = self.store.key(account, "sms")
        p = self.store.pipeline
        await p.call("HSET", key, "plan", plan, "refund", "1" if refund else "0")
        if rate is None:
            await p.call("HDEL", key, "rate", "burst")
        else:
            await p.call("HSET", key, "rate", rate, "burst", burst if burst is not None else max(rate, 1))

    async def set_sender(self, account: str, sender: str, status: str) -> None:
        await self.store.pipeline.call("HSET", self.store.key(account, "smssnd"), sender, status)

    async def create_dispatch(self, account: str, dispatch_id: str, name: str) -> None:
        await self.store.pipeline.call("HSET", self.dispatch_key(account, dispatch_id), "name", name, "sent", 0,
                                       "parts", 0, "pending", 0, "delivered", 0, "failed", 0, "cost", 0)


__all__ = ["SmsRedis"]
