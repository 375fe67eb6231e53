"""Subscriber provisioning: add, show, import and delete subscribers (PostgreSQL), keys sealed at rest.

K and OPc are sealed (AES-256-GCM, `ocs.sealing`) with associated data binding them to the IMSI before they
leave this module; nothing here returns or logs them. A new subscriber also gets its monetary account (balance
0, the configured currency), so it can be topped up at once. Deleting a subscriber drops its cached AuC
record and its Redis counters; the ledger rows stay in PostgreSQL (they are the audit trail).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import asyncpg

from ocs.charging.errors import UnknownSubscriber
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

    def as_dict(self) -> dict[str, Any]:
        return {"imsi": self.imsi, "msisdn": self.msisdn, "status": self.status, "amf": self.amf,
                "apns": list(self.apns), "ambr_ul": self.ambr_ul, "ambr_dl": self.ambr_dl,
                "seq_reserved": self.seq_reserved, "mme_host": self.mme_host, "purged": self.purged,
                "created_at": self.created_at}


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

    async def add(self, s: NewSubscriber) -> None:
        """Store one subscriber and open its account; SubscriberExists for a taken IMSI or MSISDN."""
        async with self.pool.acquire() as conn:
            try:
                await conn.execute(INSERT, *self._row(s))
            except asyncpg.UniqueViolationError as e:
                raise SubscriberExists(_which_exists(e, s)) from None
            try:
                await self.charging.open_account(s.imsi, self.currency)
            except BaseException:
                # no subscriber without an account: undo the row so that the same `add` can be run again
                await conn.execute("DELETE FROM subscribers WHERE imsi = $1", s.imsi)
                raise

    async def add_many(self, rows: Iterable[tuple[int, NewSubscriber]]) -> dict[int, str]:
        """Store each (line, subscriber) on its own (a bad one does not stop the others); returns the refusals
        by line. Duplicates within the batch or against the database are refused, the first one kept."""
        refused: dict[int, str] = {}
        async with self.pool.acquire() as conn:
            for line, s in rows:
                try:
                    await conn.execute(INSERT, *self._row(s))
                except asyncpg.UniqueViolationError as e:
                    refused[line] = _which_exists(e, s)
                    continue
                await self.charging.open_account(s.imsi, self.currency)
        return refused

    async def show(self, imsi: str) -> SubscriberView:
        async with self.pool.acquire() as conn:
            row = await conn.fetchrow(
                "SELECT imsi, msisdn, status, encode(amf, 'hex') AS amf, apns, ambr_ul, ambr_dl, seq_reserved, "
                "mme_host, purged, created_at FROM subscribers WHERE imsi = $1 OR msisdn = $1 "
                "ORDER BY imsi = $1 DESC LIMIT 1", imsi)
        if row is None:
            raise SubscriberNotFound(imsi)
        return SubscriberView(row["imsi"], row["msisdn"], row["status"], row["amf"], tuple(row["apns"]),
                              int(row["ambr_ul"]), int(row["ambr_dl"]), int(row["seq_reserved"]), row["mme_host"],
                              bool(row["purged"]), row["created_at"].isoformat())

    async def delete(self, imsi: str, *, force: bool = False) -> None:
        """Remove the subscriber (by IMSI or MSISDN); refused while its account holds money or bundles, unless
        `force`."""
        imsi = (await self.show(imsi)).imsi
        if not force:
            try:
                view = await self.charging.account(imsi)
            except UnknownSubscriber:
                view = None
            if view is not None and (view.balance or view.bundles):
                raise SubscriberExists(f"{imsi} still has a balance of {view.balance} and {len(view.bundles)} "
                                       "bundle(s); use --force to delete it anyway")
        async with self.pool.acquire() as conn:
            deleted = await conn.fetchval("DELETE FROM subscribers WHERE imsi = $1 RETURNING imsi", imsi)
        if deleted is None:
            raise SubscriberNotFound(imsi)
        store = self.charging.store
        await store.client.delete(store.key(imsi, "auc"))
        await self.charging.redis.wipe(imsi)


def _which_exists(e: asyncpg.UniqueViolationError, s: NewSubscriber) -> str:
    if "msisdn" in (getattr(e, "constraint_name", None) or str(e)):
        return f"MSISDN {s.msisdn} is already provisioned"
    return f"IMSI {s.imsi} is already provisioned"


__all__ = ["SubscriberService", "SubscriberView"]
