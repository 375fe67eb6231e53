"""Subscriber provisioning: add, show, import and delete subscribers (PostgreSQL), keys sealed at rest.

K and OPc are sealed (AES-256-GCM, `ocs.sealing`) with associated data binding them to the IMSI before they
leave this module; nothing here returns or logs them. A new subscriber also gets its monetary account (balance
0, the configured currency), so it can be topped up at once, unless it joins an existing account (several
SIMs may share one). Deleting a subscriber drops its cached AuC record and its identity index entries, and its
account when no other SIM points at it; the ledger rows stay in PostgreSQL (they are the audit trail).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg

from ocs.charging.errors import UnknownAccount, UnknownSubscriber
from ocs.provisioning import NewSubscriber, SubscriberExists, SubscriberNotFound
from ocs.sealing import Sealer
from ocs.services.auc import aad
from ocs.services.charging import ChargingService

INSERT = """
INSERT INTO subscribers (imsi, msisdn, k_enc, opc_enc, amf, seq_reserved, status, apns)
VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"""


@dataclass(frozen=True, slots=True)
class SubscriberView:
    """What `subscriber show` prints: never K or OPc."""

    imsi: str
    msisdn: str
    status: str
    amf: str
    apns: tuple[str, ...]
    ambr_ul: int
    ambr_dl: int
    seq_reserved: int
    mme_host: str | None
    purged: bool
    created_at: str
    account: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"imsi": self.imsi, "msisdn": self.msisdn, "status": self.status, "amf": self.amf,
                "apns": list(self.apns), "ambr_ul": self.ambr_ul, "ambr_dl": self.ambr_dl,
                "seq_reserved": self.seq_reserved, "mme_host": self.mme_host, "purged": self.purged,
                "created_at": self.created_at, "account": self.account}


class SubscriberService:
    def __init__(self, pool: asyncpg.Pool, sealer: Sealer, charging: ChargingService, *, currency: str,
                 ind_bits: int = 5) -> None:
        self.pool = pool
        self.sealer = sealer
        self.charging = charging
        self.currency = currency
        self.ind_bits = ind_bits

    def _row(self, s: NewSubscriber) -> tuple[object, ...]:
        return (s.imsi, s.msisdn, self.sealer.seal(s.k, aad("k", s.imsi)), self.sealer.seal(s.opc, aad("opc", s.imsi)),
                s.amf, s.seq_floor(self.ind_bits), s.status, list(s.apns))

    async def add(self, s: NewSubscriber, account: str | None = None) -> str:
        """Store one subscriber pointing at `account` (which must exist), or at a new account opened for it in
        the configured currency; SubscriberExists for a taken IMSI or MSISDN. Returns the account id."""
        async with self.pool.acquire() as conn:
            if account is not None and not await conn.fetchval(
                    "SELECT EXISTS (SELECT 1 FROM accounts WHERE account_id = $1)", account):
                raise UnknownAccount(account)
            try:
                await conn.execute(INSERT, *self._row(s))
            except asyncpg.UniqueViolationError as e:
                raise SubscriberExists(_which_exists(e, s)) from None
        return await self._attach(s, account)

    async def _attach(self, s: NewSubscriber, account: str | None) -> str:
        """Open the new subscriber's account (unless it joins `account`) and point the SIM at it. No subscriber
        without an account: on failure the row is removed again, so the same `add` can be run again."""
        opened = None
        try:
            if account is None:
                account = opened = await self.charging.open_account(self.currency)
            await self.charging.link_sim(account, s.imsi, s.msisdn)
        except BaseException:
            async with self.pool.acquire() as conn:
                await conn.execute("DELETE FROM subscribers WHERE imsi = $1", s.imsi)
                if opened is not None:
                    await conn.execute("DELETE FROM accounts WHERE account_id = $1", opened)
            raise
        return account

    async def add_many(self, rows: Iterable[tuple[int, NewSubscriber]]) -> dict[int, str]:
        """Store each (line, subscriber) on its own (a bad one does not stop the others), each with a new
        account; returns the refusals by line. Duplicates within the batch or against the database are refused,
        the first one kept."""
        refused: dict[int, str] = {}
        async with self.pool.acquire() as conn:
            for line, s in rows:
                try:
                    await conn.execute(INSERT, *self._row(s))
                except asyncpg.UniqueViolationError as e:
                    refused[line] = _which_exists(e, s)
                    continue
                await self._attach(s, None)
        return refused

    async def show(self, imsi: str) -> SubscriberView:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT imsi, msisdn, status, encode(amf, 'hex') AS amf, apns, ambr_ul, ambr_dl, seq_reserved, "
                "mme_host, purged, created_at, account_id FROM subscribers WHERE imsi = $1 OR msisdn = $1 "
                "ORDER BY imsi = $1 DESC LIMIT 1", imsi)
        if row is None:
            raise SubscriberNotFound(imsi)
        return SubscriberView(row["imsi"], row["msisdn"], row["status"], row["amf"], tuple(row["apns"]),
                              int(row["ambr_ul"]), int(row["ambr_dl"]), int(row["seq_reserved"]), row["mme_host"],
                              bool(row["purged"]), row["created_at"].isoformat(), row["account_id"])

    async def delete(self, imsi: str, *, force: bool = False) -> None:
        """Remove the subscriber (by IMSI or MSISDN). Its account goes with it when no other SIM points at it:
        that is refused while the account holds money or bundles, unless `force`. The ledger rows stay."""
        view = await self.show(imsi)
        imsi, account = view.imsi, view.account
        async with self.pool.acquire() as conn:
            others = await conn.fetchval("SELECT count(*) FROM subscribers WHERE account_id = $1 AND imsi <> $2",
                                         account, imsi) if account is not None else 0
        last = account is not None and not others
        if last and not force:
            try:
                money = await self.charging.account(account)  # type: ignore[arg-type]
            except UnknownSubscriber:
                money = None
            if money is not None and (money.balance or money.bundles):
                raise SubscriberExists(f"{imsi} still has a balance of {money.balance} and {len(money.bundles)} "
                                       "bundle(s); use --force to delete it anyway")
        if last and force:
            from ocs.services.subscriber_admin import close_account

            await close_account(self.charging, account, imsi)  # type: ignore[arg-type]  # never drop money silently
        async with self.pool.acquire() as conn, conn.transaction():
            deleted = await conn.fetchval("DELETE FROM subscribers WHERE imsi = $1 RETURNING imsi", imsi)
            if deleted is not None and last:
                await conn.execute("DELETE FROM accounts WHERE account_id = $1", account)
        if deleted is None:
            raise SubscriberNotFound(imsi)
        store = self.charging.store
        await store.client.delete(store.key(imsi, "auc"))
        await self.charging.redis.unlink(imsi, view.msisdn)
        if last:
            await self.charging.redis.wipe(account)  # type: ignore[arg-type]


def _which_exists(e: asyncpg.UniqueViolationError, s: NewSubscriber) -> str:
    if "msisdn" in (getattr(e, "constraint_name", None) or str(e)):
        return f"MSISDN {s.msisdn} is already provisioned"
    return f"IMSI {s.imsi} is already provisioned"


__all__ = ["SubscriberService", "SubscriberView"]
