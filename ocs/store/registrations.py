"""S6a registration state in PostgreSQL: the subscriber profile an MME is sent, the serving MME, purges.

Implements the S6a `Registrations` protocol (ocs.apps.s6a) (TS 29.272 §5.2.1.1 Update Location, §5.2.1.3 Purge UE).
"""

from __future__ import annotations

import asyncpg

from ocs.subscribers.profiles import SubscriberProfile


class PgRegistrations:
    def __init__(self, pool: asyncpg.Pool) -> None:
        self.pool = pool

    async def profile(self, imsi: str) -> SubscriberProfile | None:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT imsi, msisdn, status, apns, ambr_ul, ambr_dl FROM subscribers WHERE imsi = $1", imsi)
        if row is None:
            return None
        return SubscriberProfile(row["imsi"], row["msisdn"], row["status"], tuple(row["apns"]), int(row["ambr_ul"]),
                                 int(row["ambr_dl"]))

    async def register(self, imsi: str, mme_host: str, mme_realm: str) -> tuple[str, str] | None:
        """Record the MME serving the UE; the previous MME (host, realm) when it was another one."""
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                "UPDATE subscribers s SET mme_host = $2, mme_realm = $3, mme_updated_at = now(), purged = false "
                "FROM (SELECT imsi, mme_host, mme_realm FROM subscribers WHERE imsi = $1 FOR UPDATE) old "
                "WHERE s.imsi = old.imsi RETURNING old.mme_host, old.mme_realm", imsi, mme_host, mme_realm)
        if row is None or row["mme_host"] is None or row["mme_host"] == mme_host:
            return None
        return row["mme_host"], row["mme_realm"] or ""

    async def purge(self, imsi: str, mme_host: str) -> bool | None:
        """TS 29.272 §5.2.1.3.3: mark the UE purged when the purging MME is the registered one."""
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                "UPDATE subscribers SET purged = (mme_host = $2) OR purged WHERE imsi = $1 "
                "RETURNING mme_host = $2 AS registered", imsi, mme_host)
        if row is None:
            return None
        return bool(row["registered"])
