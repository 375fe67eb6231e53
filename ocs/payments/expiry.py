"""Expiry notices (issue 17 point 5): before a hotspot package bought with mobile money or a bundle of a
mobile subscriber expires, one notification (`package.expiring` / `bundle.expiring`), sent once per (voucher or
bundle, expiry) thanks to the `notifications_sent` table (migration 012), whichever ocsd process runs the job.

A housekeeping job (`ExpiryNotices.run_once`, every `[notify] interval`) looks at what expires within
`[notify] expiry_notice_hours`: the vouchers of applied portal payments (their Redis allowance holds the end of
validity once the first login started it) and the bundles of the accounts that SIMs point at.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import asyncpg

from ocs.charging.errors import ChargingError
from ocs.payments.notify import Notifier
from ocs.services.charging import ChargingService
from ocs.services.hotspot import HotspotService

BATCH = 1000  # accounts looked at per pass (in account order, continuing where the last pass stopped)


class ExpiryNotices:
    def __init__(self, pool: asyncpg.Pool, charging: ChargingService, hotspot: HotspotService, notifier: Notifier,
                 notice_hours: int, clock: Callable[[], float] = time.time) -> None:
        self.pool, self.charging, self.hotspot, self.notifier = pool, charging, hotspot, notifier
        self.window = notice_hours * 3600
        self.clock = clock
        self._after = ""  # the last account of the previous pass

    async def _first_time(self, kind: str, key: str, account: str) -> bool:
        async with self.pool.acquire() as conn:
            return await conn.fetchval("INSERT INTO notifications_sent (kind, key, account_id) VALUES ($1, $2, $3) "
                                       "ON CONFLICT DO NOTHING RETURNING true", kind, key, account) is not None

    async def run_once(self) -> int:
        now = int(self.clock())
        sent = 0
        async with self.pool.acquire() as conn:
            vouchers = await conn.fetch(
                "SELECT id, voucher, phone, account_id, item FROM payments WHERE status = 'applied' AND "
                "purpose = 'hotspot' AND voucher IS NOT NULL AND applied_at > now() - interval '60 days'")
            sims = await conn.fetch(
                "SELECT account_id, min(msisdn) AS msisdn FROM subscribers WHERE account_id > $1 "
                "GROUP BY account_id ORDER BY account_id LIMIT $2", self._after, BATCH)
        self._after = sims[-1]["account_id"] if len(sims) == BATCH else ""
        for v in vouchers:
            hs = await self.hotspot.redis.allowance(v["account_id"])
            exp = int(hs.get("exp") or 0)
            if exp and now < exp <= now + self.window and \
                    await self._first_time("package.expiring", f"{v['voucher']}:{exp}", v["account_id"]):
                sent += await self.notifier.notify("package.expiring", {
                    "voucher": v["voucher"], "package": v["item"], "phone": v["phone"], "expires_at": exp,
                    "payment": v["id"]})
        for s in sims:
            try:
                view = await self.charging.account(s["account_id"])
            except ChargingError:
                continue
            for b in view.bundles:
                if now < b.expires_at <= now + self.window and await self._first_time(
                        "bundle.expiring", f"{s['account_id']}:{b.bundle_id}:{b.expires_at}", s["account_id"]):
                    sent += await self.notifier.notify("bundle.expiring", {
                        "account": s["account_id"], "msisdn": s["msisdn"], "bundle": b.code,
                        "expires_at": b.expires_at})
        return sent


__all__ = ["ExpiryNotices"]
