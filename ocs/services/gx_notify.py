"""Server-initiated Gx requests (issue 10 point 3): fair use and plan changes pushed to the PCEF by RAR
(TS 29.212 §4.5.2, §5.6.4) over the connection of the peer that owns the session.

The notifications travel on Gy's stream (`<p>:gynotify`, ocs.services.gy_notify), which every daemon reads:
- `throttle` (account): the account's data ran out (Gy gave a last grant or a 4012: ocs.services.gx
  .exhausted_hook); each of its sessions whose plan has a throttle gets a RAR installing the throttle rule (a rule
  carrying the throttled QoS: open5gs honours only rule install/remove in a RAR, shared/PEERS.md);
- `reauth` (account, sent by every top-up and bundle purchase): the account is no longer throttled; each
  throttled session gets a RAR removing the throttle rule (the plan restored);
- `gxplan` (imsi, sent by `ocsd subscriber set --plan`): each session of the SIM gets a RAR removing the old
  plan's rules and installing the new plan's.
Each RAR and its RAA is recorded (`<p>:gxrar`, a capped stream: ts, session, peer, reason, result), logged and
counted (`ocsd_gx_rar_total`). A daemon that does not hold the owning peer's connection skips the session
(another daemon sharing Redis holds it).
"""

from __future__ import annotations

import json
import time
from typing import Any

import asyncpg
import structlog

from ocs.apps.gx_messages import make_rar
from ocs.diameter.dictionary import Dictionary
from ocs.metrics import gx_rar_total
from ocs.policy.plans import (
    THROTTLE_RULE,
    Plan,
    billing_month,
    installed_rules,
    monitoring_grant,
    plan_from,
    plan_json,
    throttle_rule,
)
from ocs.services.gx import throttle_key, usage_key
from ocs.services.gy_notify import Send, StreamReader, notify
from ocs.services.plans import get_plan
from ocs.store.gx_redis import GxRedis
from ocs.store.redis_client import RedisStore

log = structlog.get_logger("ocs.gx")

RECORDS = 10_000  # RAR records kept in <p>:gxrar


def rar_log_key(store: RedisStore) -> str:
    return f"{store.prefix}:gxrar"


async def notify_plan(store: RedisStore, imsi: str) -> None:
    """The SIM's plan changed (`subscriber set --plan`): its live PCEF sessions get the new plan's rules."""
    await notify(store, kind="gxplan", imsi=imsi)


class GxNotifier(StreamReader):
    log_name = "gx-notify"

    def __init__(self, store: RedisStore, gx: GxRedis, pool: asyncpg.Pool, send: Send, d: Dictionary,
                 origin_host: str, origin_realm: str, default_plan: str | None, block_ms: int = 1000) -> None:
        super().__init__(store, block_ms)
        self.gx, self.pool, self.send, self.d = gx, pool, send, d
        self.origin_host, self.origin_realm = origin_host, origin_realm
        self.default_plan = default_plan

    async def handle(self, fields: dict[str, str]) -> None:
        try:
            kind = fields.get("kind")
            if kind == "throttle":
                await self.throttle(fields["account"])
            elif kind == "reauth":
                await self.restore(fields["account"])
            elif kind == "gxplan":
                await self.plan_changed(fields["imsi"])
        except (OSError, ConnectionError, TimeoutError) as e:
            log.warning("gx-notify-failed", kind=fields.get("kind"), error=str(e) or type(e).__name__)

    async def _rar(self, reason: str, session_id: str, s: dict[str, str], install: tuple[Any, ...],
                   remove: list[str], plan: Plan | None = None) -> int | None:
        """One RAR to the session's owning peer, recorded; the RAA's Result-Code (None: not sent from here)."""
        rar = make_rar(self.d, self.origin_host, self.origin_realm, session_id, s["peer"], s["realm"], install,
                       remove, plan)
        try:
            answer = await self.send(s["peer"], rar)
        except (ConnectionError, KeyError):
            return None  # another daemon holds the peer's connection
        except TimeoutError:
            result: int | str = "timeout"
        else:
            result = int(self.d.read(answer).get("Result-Code", 0))
        gx_rar_total.inc((reason, str(result)))
        log.info("gx-rar-answered", session=session_id, peer=s["peer"], reason=reason, result=result)
        await self.store.pipeline.call(
            "XADD", rar_log_key(self.store), "MAXLEN", "~", RECORDS, "*", "ts", str(int(time.time() * 1000)),
            "session", session_id, "peer", s["peer"], "imsi", s.get("imsi", ""), "reason", reason,
            "result", str(result), "install", ",".join(r.name for r in install), "remove", ",".join(remove))
        return result if isinstance(result, int) else None

    async def throttle(self, account: str) -> None:
        for session_id, s in (await self.gx.sessions_of_account(account)).items():
            plan = plan_from(json.loads(s["plan"])) if s.get("plan") else None
            rule = throttle_rule(plan) if plan is not None else None
            if rule is None or s.get("throttled") == "1":
                continue
            if await self._rar("throttle", session_id, s, (rule,), []) == 2001:
                await self.gx.set_fields(session_id, {"throttled": "1"})

    async def restore(self, account: str) -> None:
        await self.store.pipeline.call("DEL", throttle_key(self.store, account))
        month = billing_month(time.time())
        for session_id, s in (await self.gx.sessions_of_account(account)).items():
            if s.get("throttled") != "1":
                continue
            plan = plan_from(json.loads(s["plan"])) if s.get("plan") else None
            if plan is not None and plan.monthly_octets is not None and monitoring_grant(plan, int(
                    await self.store.pipeline.call("GET", usage_key(self.store, s["imsi"], month)) or 0)) == 0:
                continue  # the month's volume is used up: a top-up does not lift that throttle
            if await self._rar("restore", session_id, s, (), [THROTTLE_RULE]) == 2001:
                await self.gx.set_fields(session_id, {"throttled": "0"})

    async def plan_changed(self, imsi: str) -> None:
        code = await self.pool.fetchval("SELECT plan_code FROM subscribers WHERE imsi = $1", imsi)
        code = code or self.default_plan
        new: Plan | None = await get_plan(self.pool, code) if code else None
        for session_id, s in (await self.gx.sessions_of(imsi)).items():
            old = plan_from(json.loads(s["plan"])) if s.get("plan") else None
            throttled = s.get("throttled") == "1"
            removed = [r.name for r in installed_rules(old, throttled)] if old is not None else []
            still = bool(throttled and new is not None and new.throttles)
            install = installed_rules(new, still) if new is not None else ()
            if new is None and not removed:
                continue
            # the new APN-AMBR and bearer QoS travel too, unless the session stays throttled (TS 29.212 §4.5.2)
            if await self._rar("plan", session_id, s, install, removed, None if still else new) == 2001:
                await self.gx.set_fields(session_id, {"plan": json.dumps(plan_json(new)) if new else "",
                                                      "throttled": "1" if still else "0"})


def gx_notifier(store: RedisStore, gx: GxRedis, pool: asyncpg.Pool, send: Send, d: Dictionary, origin_host: str,
                origin_realm: str, default_plan: str | None) -> GxNotifier:
    return GxNotifier(store, gx, pool, send, d, origin_host, origin_realm, default_plan)


__all__ = ["GxNotifier", "gx_notifier", "notify_plan", "rar_log_key"]
