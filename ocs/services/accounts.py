"""Accounts and identities, the part of ChargingService (ocs/services/charging.py) that opens accounts and maps
SIMs to them: money belongs to an account (an opaque id, a currency); a SIM (IMSI, MSISDN) points at one, and
several may share one. PostgreSQL keeps `subscribers.account_id`; Redis keeps the identity index the hot path
reads (IMSI -> account, MSISDN -> account), so finding whom to charge never reads PostgreSQL.
"""

from __future__ import annotations

import secrets
from typing import Any

import asyncpg

from ocs.charging.currencies import check_currency
from ocs.charging.errors import AccountExists, CurrencyMismatch, UnknownAccount, UnknownSubscriber
from ocs.charging.model import AccountView, Sim, check_account_id
from ocs.services import account_status
from ocs.store.charging_redis import ChargingRedis


def new_account_id() -> str:
    """A fresh opaque account id (random, 20 hex digits after 'a')."""
    return "a" + secrets.token_hex(10)


class Accounts:
    """Mixed into ChargingService, which provides `redis` and `pool`."""

    redis: ChargingRedis
    pool: asyncpg.Pool

    async def account_of_imsi(self, imsi: str) -> str:
        """The account id a SIM's IMSI points at, from the Redis identity index (never PostgreSQL)."""
        return await self.redis.account_of("imsi", imsi)

    async def account_of_msisdn(self, msisdn: str) -> str:
        """The account id a SIM's MSISDN points at, from the Redis identity index (never PostgreSQL)."""
        return await self.redis.account_of("msisdn", msisdn)

    async def account_of_sim_in_postgres(self, *, imsi: str | None = None, msisdn: str | None = None) -> str:
        """The account a SIM points at, from PostgreSQL (for rebuilding the Redis identity index)."""
        async with self.pool.acquire() as conn:
            found = await conn.fetchval("SELECT account_id FROM subscribers WHERE imsi = $1 OR msisdn = $2",
                                        imsi, msisdn)
        if found is None:
            raise UnknownSubscriber(imsi or msisdn or "")
        return str(found)

    async def open_account(self, currency: str, account: str | None = None, *, exist_ok: bool = False) -> str:
        """Open an account (balance 0) in `currency`; `account` None generates an id. An existing id is
        AccountExists, or with `exist_ok` accepted when its currency matches. Returns the account id."""
        check_currency(currency)
        account = new_account_id() if account is None else check_account_id(account)
        async with self.pool.acquire() as conn:
            created = await conn.fetchval("INSERT INTO accounts (account_id, currency) VALUES ($1, $2) "
                                          "ON CONFLICT DO NOTHING RETURNING account_id", account, currency)
            existing = await conn.fetchval("SELECT currency FROM accounts WHERE account_id = $1", account)
            seq = await conn.fetchval("SELECT coalesce(max(seq), 0) FROM ledger WHERE account_id = $1", account)
        if created is None and not exist_ok:
            raise AccountExists(account)
        if existing != currency:
            raise CurrencyMismatch(f"account {account} is in {existing}")
        try:
            await self.redis.open_account(account, currency, seq)
        except BaseException:
            if created is not None:  # no account row without its Redis account: the same call can be run again
                async with self.pool.acquire() as conn:
                    await conn.execute("DELETE FROM accounts WHERE account_id = $1", account)
            raise
        return account

    async def link_sim(self, account: str, imsi: str, msisdn: str) -> None:
        """Point a provisioned SIM at an existing account (PostgreSQL, then the Redis identity index)."""
        async with self.pool.acquire() as conn:
            status = await conn.fetchval(
                "UPDATE subscribers SET account_id = $1, updated_at = now() WHERE imsi = $2 AND "
                "EXISTS (SELECT 1 FROM accounts WHERE account_id = $1) RETURNING status", account, imsi)
        if status is None:
            raise UnknownAccount(account)
        await self.redis.link(account, imsi, msisdn)
        if status == "barred":  # a SIM provisioned barred is refused on Gy from the start
            await account_status.sim_barred(self.redis.store, account, imsi, msisdn, True)

    async def sims(self, account: str) -> list[Sim]:
        """The SIMs that point at `account` (PostgreSQL: for views, not the hot path)."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch("SELECT imsi, msisdn FROM subscribers WHERE account_id = $1 ORDER BY imsi",
                                    account)
        return [Sim(r["imsi"], r["msisdn"]) for r in rows]

    async def block(self, account: str, reason: str | None = None, *, by: str | None = None) -> dict[str, Any]:
        """Block the account: Gy refuses it with 4010 (ocs.services.account_status); `by` names the actor for
        the audit row (an admin API token), else the operating-system user."""
        return await account_status.block(self.pool, self.redis.store, account, reason, by=by)

    async def unblock(self, account: str, *, by: str | None = None) -> dict[str, Any]:
        """Unblock the account; its live sessions that were refused are re-authorized by RAR."""
        return await account_status.unblock(self.pool, self.redis.store, account, by=by)

    async def account_status(self, account: str) -> dict[str, Any]:
        """{"account", "status" ("active" | "blocked"), "reason", "changed_at"} from PostgreSQL."""
        return await account_status.status(self.pool, account)

    async def account(self, account: str) -> AccountView:
        view = await self.redis.account(account)
        if view is None:
            raise UnknownAccount(account)
        return view


__all__ = ["Accounts", "new_account_id"]
