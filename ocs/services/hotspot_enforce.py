"""Enforcement mid-session (issue 11 point 5): when an account's shared time or data is used up, or its
validity ends, every session of it gets a Disconnect-Request (or, with `on_exhausted = "throttle"`, a
CoA-Request with a lower Mikrotik-Rate-Limit) at the router it runs on; each outcome (ack, nak, timeout after
the retransmissions) is counted and recorded in PostgreSQL (hotspot_dynauth). The reaper ends sessions whose
time ran out between interims (their deadline in the live-session index has passed)."""

from __future__ import annotations

import time

import asyncpg
import structlog

from ocs import metrics
from ocs.services.hotspot import HotspotService
from ocs.store.hotspot_redis import LiveSession
from ocs.transport.radius import DynAuthClient
from radius.clients import ClientTable, RadiusClient
from radius.dynauth import ACK, KINDS, NAK, SessionRef, outcome, session_request

log = structlog.get_logger("ocs.radius")
RETRY_AFTER = 60  # seconds before the reaper acts again on a session it has sent a request for


class Enforcer:
    def __init__(self, service: HotspotService, pool: asyncpg.Pool, clients: ClientTable, dynauth: DynAuthClient,
                 mode: str = "disconnect", throttle_rate_limit: str = "64k/64k", stale_after: int = 0) -> None:
        self.service = service
        self.pool = pool
        self.clients = {c.name: c for c in clients}
        self.dynauth = dynauth
        self.mode = mode
        self.throttle_rate_limit = throttle_rate_limit
        self.stale_after = stale_after
        self._in_flight: set[tuple[str, str]] = set()
        self._acted: dict[tuple[str, str], float] = {}  # session -> when a request was last sent for it

    async def enforce(self, account: str, reason: str) -> list[str]:
        """Act on every live session of `account`; the outcomes."""
        kind = "coa" if self.mode == "throttle" else "disconnect"
        return [await self.act(s, kind, reason) for s in await self.service.redis.sessions(account)]

    async def act(self, s: LiveSession, kind: str, reason: str) -> str:
        key = (s.account, s.session_id)
        if key in self._in_flight:
            return "in-flight"
        now = time.monotonic()
        if reason != "operator" and now - self._acted.get(key, -RETRY_AFTER) < RETRY_AFTER:
            return "recent"  # the interims and the reaper after the first attempt: no repeat for a while
        if len(self._acted) > 100_000:
            self._acted = {k: t for k, t in self._acted.items() if now - t < RETRY_AFTER}
        self._acted[key] = now
        client = self.clients.get(s.client)
        if client is None or not s.source:
            log.warning("dynauth-no-router", account=s.account, session=s.session_id, client=s.client)
            return "no-router"
        self._in_flight.add(key)
        try:
            return await self._send(client, s, kind, reason)
        finally:
            self._in_flight.discard(key)

    async def _send(self, client: RadiusClient, s: LiveSession, kind: str, reason: str) -> str:
        ref = SessionRef(s.user, s.session_id, s.framed_ip, s.nas_ip)
        attrs = session_request(ref, self.throttle_rate_limit if kind == "coa" else None)
        code, sends = await self.dynauth.send(s.source, client.coa_port, client.secret, KINDS[kind], attrs)
        result = outcome(code)
        metrics.radius_dynauth_total.inc((kind, result))
        log.info("dynauth", kind=kind, outcome=result, sends=sends, account=s.account, session=s.session_id,
                 client=s.client, reason=reason)
        async with self.pool.acquire() as conn:
            await conn.execute("INSERT INTO hotspot_dynauth (account_id, acct_session_id, client, kind, outcome, "
                               "sends, reason) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                               s.account, s.session_id, s.client, kind, result, sends, reason)
        if kind == "disconnect" and result == NAK:
            # RFC 5176 §3.5: the router refuses to end it, normally because it has no such session (Error-Cause
            # 503): it is over as far as the router knows, so it ends here too.
            await self.service.close_sessions(s.account, [s], int(time.time()), "Admin-Reset")
            return result
        # The router's Accounting Stop ends the session; until then the reaper leaves it alone for a while
        # (after an ACK the Stop is on its way; after a timeout it tries again later).
        await self.service.redis.postpone(s.account, s.session_id, int(time.time()) + RETRY_AFTER)
        return result

    async def disconnect(self, session_id: str, reason: str = "operator") -> str | None:
        """`ocsd hotspot session disconnect`: None when no live session has this Acct-Session-Id."""
        for s in await self.service.live_sessions():
            if s.session_id == session_id:
                return await self.act(s, "disconnect", reason)
        return None

    async def reap(self, now: float | None = None) -> int:
        """Sessions past their deadline: a stale one (no accounting for `stale_after`: the router lost it
        without a Stop) ends here; for the others time or validity ran out since the last interim, and the
        router is asked to end them. The number of sessions ended or acknowledged."""
        now = time.time() if now is None else now
        due = await self.service.redis.live_members(now)
        metrics.radius_sessions.set(len(await self.service.redis.live_members()))
        n = 0
        for account in sorted({a for a, _ in due}):
            ids = {sid for a, sid in due if a == account}
            for s in await self.service.redis.sessions(account):
                if s.session_id not in ids:
                    continue
                if self.stale_after and now - s.last >= self.stale_after:
                    log.info("hotspot-stale-session", account=account, session=s.session_id, client=s.client)
                    n += await self.service.close_sessions(account, [s], int(now), "Lost-Service")
                elif await self.act(s, "coa" if self.mode == "throttle" else "disconnect", "reaper") == ACK:
                    n += 1
        return n


__all__ = ["Enforcer"]
