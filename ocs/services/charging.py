"""The charging service: the one place the CLI, the Gy and RADIUS apps and the admin port call for money.

Money belongs to an account (an opaque id, a currency); every operation here takes the account id. A SIM's
IMSI or MSISDN is turned into its account id by `account_of_imsi` / `account_of_msisdn`, which read the Redis
identity index (never PostgreSQL). Hot path (`reserve`, `commit`, `update`, `release`) touches Redis only (one
script call each, tariffs from the in-memory cache). Provisioning (accounts, catalog, tariffs), views and
rebuilds use PostgreSQL as well.

Gift protocol (two accounts = two cluster slots, so no single script can do both halves):
  1. sender: money.lua gift_out (-price, ref = gift id) also stores the pending gift (recipient, bundle,
     expiry) in the sender's `gifts` hash — one atomic step;
  2. recipient: activate.lua gift_in (price 0, ref = gift id): idempotent by the gift id;
  3. sender: HDEL the pending gift.
  If the recipient cannot be credited (no account), the sender is refunded by money.lua gift_refund
  (ref `<gift id>:refund`), which also drops the pending record. A crash between the steps leaves the
  pending record (and in PostgreSQL a gift_out without gift_in); `recover_gifts` redoes step 2-3 from it.
  A retried gift whose pending record is gone was completed (recipient holds the ref) or refunded.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable
from typing import Any

import asyncpg

from ocs.charging import rating
from ocs.charging.errors import (
    BundleExists,
    CurrencyMismatch,
    GiftRefunded,
    InvalidAmount,
    InvalidRecipient,
    UnknownAccount,
    UnknownBundle,
    UnknownSubscriber,
    UnknownTariff,
)
from ocs.charging.model import (
    Allowances,
    BundleDefinition,
    BundleKind,
    CommitResult,
    GiftResult,
    Grant,
    LedgerEntry,
    MoneyResult,
    PurchaseResult,
    Tariff,
    Unit,
    UpdateResult,
    check_ref,
)
from ocs.services.accounts import Accounts
from ocs.services.gy_notify import notify_reauth
from ocs.store import ledger as ledger_store
from ocs.store.charging_redis import DEFAULT_REQUEST_TTL, ChargingRedis, reservation_key
from ocs.store.redis_client import RedisStore

DAY = 86400


CATALOG = "SELECT * FROM bundle_catalog WHERE retired_at IS NULL"  # a retired bundle is no longer sold


def _bundle_from_row(r: asyncpg.Record) -> BundleDefinition:
    return BundleDefinition(r["code"], r["name"], BundleKind(r["kind"]),
                            Allowances(r["data_octets"], r["voice_seconds"], r["sms_count"], r["roaming_data_octets"]),
                            r["validity_days"], r["priority"], r["price"], r["currency"],
                            tuple(r["rating_groups"] or ()))


def _tariff_from_row(r: asyncpg.Record) -> Tariff:
    return Tariff(r["rating_group"], Unit(r["unit"]), r["unit_size"], r["price_home"], r["price_roaming"],
                  r["currency"])


class ChargingService(Accounts):
    def __init__(self, store: RedisStore, pool: asyncpg.Pool, *, request_ttl: int = DEFAULT_REQUEST_TTL,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.redis = ChargingRedis(store, request_ttl)
        self.pool = pool
        self.clock = clock
        self._tariffs: dict[int, Tariff] = {}
        self._catalog: dict[str, BundleDefinition] = {}

    async def load(self) -> None:
        """Read tariffs and the catalog into memory (at start, and to pick up other processes' changes)."""
        async with self.pool.acquire() as conn:
            tariffs = await conn.fetch("SELECT * FROM tariffs")
            self._tariffs = {t.rating_group: t for t in map(_tariff_from_row, tariffs)}
            self._catalog = {b.code: b for b in map(_bundle_from_row, await conn.fetch(CATALOG))}

    def _now(self, now: float | None) -> tuple[int, int]:
        t = self.clock() if now is None else now
        return int(t), int(t * 1000)

    # ---- catalog and tariffs
    async def create_bundle(self, definition: BundleDefinition) -> None:
        a = definition.allowances
        for value in (a.data_octets, a.voice_seconds, a.sms_count, a.roaming_data_octets, definition.price):
            rating.check_amount(value)
        async with self.pool.acquire() as conn:
            done = await conn.fetchval(
                """INSERT INTO bundle_catalog (code, name, kind, data_octets, voice_seconds, sms_count,
                       roaming_data_octets, validity_days, priority, price, currency, rating_groups)
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING
                   RETURNING code""",
                definition.code, definition.name, definition.kind.value, a.data_octets, a.voice_seconds, a.sms_count,
                a.roaming_data_octets, definition.validity_days, definition.priority, definition.price,
                definition.currency, list(definition.rating_groups))
        if done is None:
            raise BundleExists(definition.code)
        self._catalog[definition.code] = definition

    async def list_bundles(self) -> list[BundleDefinition]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch(CATALOG + " ORDER BY priority, code")
        self._catalog = {b.code: b for b in map(_bundle_from_row, rows)}
        return list(self._catalog.values())

    async def bundle(self, code: str) -> BundleDefinition:
        found = self._catalog.get(code)
        if found is None:
            async with self.pool.acquire() as conn:
                row = await conn.fetchrow(CATALOG + " AND code = $1", code)
            if row is None:
                raise UnknownBundle(code)
            found = self._catalog[code] = _bundle_from_row(row)
        return found

    async def set_tariff(self, tariff: Tariff) -> None:
        rating.check_amount(tariff.unit_size, "unit_size", allow_zero=False)
        rating.check_amount(tariff.price_home, "price_home")
        rating.check_amount(tariff.price_roaming, "price_roaming")
        async with self.pool.acquire() as conn:
            await conn.execute(
                """INSERT INTO tariffs (rating_group, unit, unit_size, price_home, price_roaming, currency)
                   VALUES ($1, $2, $3, $4, $5, $6)
                   ON CONFLICT (rating_group) DO UPDATE SET unit = $2, unit_size = $3, price_home = $4,
                       price_roaming = $5, currency = $6, updated_at = now()""",
                tariff.rating_group, tariff.unit.value, tariff.unit_size, tariff.price_home, tariff.price_roaming,
                tariff.currency)
        self._tariffs[tariff.rating_group] = tariff

    async def list_tariffs(self) -> list[Tariff]:
        async with self.pool.acquire() as conn:
            rows = await conn.fetch("SELECT * FROM tariffs ORDER BY rating_group")
        self._tariffs = {t.rating_group: t for t in map(_tariff_from_row, rows)}
        return list(self._tariffs.values())

    def tariff(self, rating_group: int) -> Tariff:
        found = self._tariffs.get(rating_group)
        if found is None:
            raise UnknownTariff(str(rating_group))
        return found

    # ---- money
    async def top_up(self, account: str, amount: int, ref: str, *, now: float | None = None,
                     detail: dict[str, Any] | None = None) -> MoneyResult:
        """Credit airtime; idempotent by `ref` (per account). `detail` goes into the ledger entry (e.g. the
        mobile-money receipt)."""
        rating.check_amount(amount, allow_zero=False)
        result = await self._money(account, "topup", amount, ref, now, detail)
        if not result.duplicate:  # sessions out of credit are re-authorized by the daemon (RAR, issue 9)
            await notify_reauth(self.store, account)
        return result

    async def adjust(self, account: str, amount: int, ref: str, reason: str = "", *,
                     now: float | None = None) -> MoneyResult:
        """Operator correction, credit (> 0) or debit (< 0, never below the available balance)."""
        rating.check_amount(amount, allow_negative=True, allow_zero=False)
        return await self._money(account, "adjust", amount, ref, now, {"reason": reason} if reason else None)

    async def refund(self, account: str, amount: int, ref: str, reason: str = "", *,
                     now: float | None = None) -> MoneyResult:
        rating.check_amount(amount, allow_zero=False)
        return await self._money(account, "refund", amount, ref, now, {"reason": reason} if reason else None)

    async def _money(self, account: str, kind: str, amount: int, ref: str, now: float | None,
                     detail: dict[str, Any] | None) -> MoneyResult:
        check_ref(ref)
        _, now_ms = self._now(now)
        return await self.redis.money(account, kind, amount, ref, now_ms, detail)

    async def purchase(self, account: str, code: str, ref: str, *, now: float | None = None) -> PurchaseResult:
        """Buy a bundle with airtime: debit and activation in one script (both or neither)."""
        check_ref(ref)
        definition = await self.bundle(code)
        await self._check_currency(account, definition.currency)
        now_s, now_ms = self._now(now)
        result = await self.redis.activate(account, "purchase", definition.price, ref, now_ms, definition.code,
                                           definition.priority, now_s + definition.validity_days * DAY,
                                           definition.allowances, {"name": definition.name},
                                           definition.rating_groups)
        if not result.duplicate:
            await notify_reauth(self.store, account)
        return result

    async def _check_currency(self, account: str, currency: str) -> None:
        view = await self.redis.account(account)
        if view is None:
            raise UnknownAccount(account)
        if view.currency != currency:
            raise CurrencyMismatch(f"account in {view.currency}, price in {currency}")

    async def gift(self, sender: str, recipient: str, code: str, gift_id: str, *,
                   now: float | None = None) -> GiftResult:
        """Give a bundle: the sender pays, the recipient gets it. Idempotent by `gift_id`."""
        check_ref(gift_id, "gift id")
        if sender == recipient:
            raise InvalidRecipient("a gift to oneself")
        definition = await self.bundle(code)
        await self._check_currency(sender, definition.currency)
        recipient_view = await self.redis.account(recipient)  # no account: refunded below (InvalidRecipient)
        if recipient_view is not None and recipient_view.currency != definition.currency:
            raise CurrencyMismatch(f"recipient's account in {recipient_view.currency}, price in {definition.currency}")
        now_s, now_ms = self._now(now)
        a = definition.allowances
        record = {"to": recipient, "code": definition.code, "name": definition.name, "priority": definition.priority,
                  "expires_at": now_s + definition.validity_days * DAY, "d": a.data_octets, "v": a.voice_seconds,
                  "s": a.sms_count, "r": a.roaming_data_octets, "price": definition.price,
                  "rgs": list(definition.rating_groups)}
        encoded = json.dumps(record, separators=(",", ":"), sort_keys=True)
        debit = await self.redis.money(sender, "gift_out", -definition.price, gift_id, now_ms, record,
                                       gift_id=gift_id, gift_record=encoded)
        if debit.duplicate:
            pending = await self.redis.pending_gifts(sender)
            if gift_id in pending:
                record = json.loads(pending[gift_id])
            else:
                seen = await self.store.hget(self.store.key(recipient, "refs"), gift_id)
                if seen is None:
                    raise GiftRefunded(gift_id)
                seq = int(seen.split("|")[0])
                return GiftResult(gift_id, debit.entry_id, f"{recipient}:{seq}", seq)
        credit = await self._credit_gift(sender, gift_id, record, now_ms)
        return GiftResult(gift_id, debit.entry_id, credit.entry_id, credit.bundle_id)

    async def _credit_gift(self, sender: str, gift_id: str, record: dict[str, Any], now_ms: int) -> PurchaseResult:
        recipient = str(record["to"])
        try:
            credit = await self.redis.activate(
                recipient, "gift_in", 0, gift_id, now_ms, str(record["code"]), int(record["priority"]),
                int(record["expires_at"]), Allowances(int(record["d"]), int(record["v"]), int(record["s"]),
                                                      int(record["r"])),
                {"from": sender, "name": record.get("name", "")},
                tuple(int(x) for x in record.get("rgs", ())))
        except UnknownSubscriber:
            await self.redis.money(sender, "gift_refund", int(record["price"]),
                                   gift_id + ledger_store.GIFT_REFUND_SUFFIX, now_ms, {"to": recipient},
                                   gift_id=gift_id, gift_record="")
            raise InvalidRecipient(f"{recipient} has no account; the sender was refunded") from None
        await self.redis.gift_done(sender, gift_id)
        return credit

    async def recover_gifts(self, sender: str | None = None, *, now: float | None = None) -> int:
        """Finish gifts whose recipient half did not happen (crash between the halves). Without `sender`,
        the senders come from PostgreSQL (gift_out entries without gift_in or refund). Returns gifts finished."""
        if sender is not None:
            senders = [sender]
        else:
            async with self.pool.acquire() as conn:
                senders = [r["account_id"] for r in await conn.fetch(
                    """SELECT DISTINCT o.account_id FROM ledger o WHERE o.kind = 'gift_out'
                       AND NOT EXISTS (SELECT 1 FROM ledger i WHERE i.kind = 'gift_in' AND i.ref = o.ref)
                       AND NOT EXISTS (SELECT 1 FROM ledger f WHERE f.kind = 'gift_refund'
                                       AND f.account_id = o.account_id AND f.ref = o.ref || $1)""",
                    ledger_store.GIFT_REFUND_SUFFIX)]
        _, now_ms = self._now(now)
        finished = 0
        for payer in senders:
            for gift_id, encoded in (await self.redis.pending_gifts(payer)).items():
                with contextlib.suppress(InvalidRecipient):  # refunded: the pending record is gone
                    await self._credit_gift(payer, gift_id, json.loads(encoded), now_ms)
                finished += 1
        return finished

    # ---- usage (hot path)
    async def reserve(self, account: str, session_id: str, rating_group: int, units: int, *, roaming: bool = False,
                      now: float | None = None) -> Grant:
        """Hold up to `units` for (session, rating group): bundles first, then money. Replaces an earlier
        reservation of the same pair. Raises InsufficientFunds when nothing can be granted."""
        rating.check_amount(units, "units", allow_zero=False)
        tariff = self.tariff(rating_group)
        rating.check_priced(units, tariff.unit_size, tariff.price(roaming), "units")
        now_s, now_ms = self._now(now)
        return await self.redis.reserve(account, reservation_key(session_id, rating_group), units,
                                        rating.dimension_for(tariff.unit, roaming), tariff.unit_size,
                                        tariff.price(roaming), now_s, now_ms, tariff.currency)

    async def commit(self, account: str, session_id: str, rating_group: int, used: int, request_id: str, *,
                     roaming: bool = False, now: float | None = None) -> CommitResult:
        """Charge `used` units against the reservation and release the rest. `request_id` (e.g.
        `<session>:<rg>:<CC-Request-Number>`) makes a retransmission return the first result."""
        rating.check_amount(used, "used")
        if not request_id:
            raise InvalidAmount("a request id is required")
        tariff = self.tariff(rating_group)
        rating.check_priced(used, tariff.unit_size, tariff.price(roaming), "used")
        now_s, now_ms = self._now(now)
        return await self.redis.commit(account, reservation_key(session_id, rating_group), used,
                                       rating.dimension_for(tariff.unit, roaming), tariff.unit_size,
                                       tariff.price(roaming), now_s, now_ms, request_id, rating_group,
                                       tariff.currency)

    async def update(self, account: str, session_id: str, rating_group: int, used: int, wanted: int, request_id: str, *,
                     roaming: bool = False, now: float | None = None) -> UpdateResult:
        """A CCR-U in one script call: `commit(used)` then `reserve(wanted)` for the same (session, rating group).
        A retransmission (same `request_id`) returns the first result and changes nothing."""
        rating.check_amount(used, "used")
        rating.check_amount(wanted, "units", allow_zero=False)
        if not request_id:
            raise InvalidAmount("a request id is required")
        tariff = self.tariff(rating_group)
        rating.check_priced(used, tariff.unit_size, tariff.price(roaming), "used")
        rating.check_priced(wanted, tariff.unit_size, tariff.price(roaming), "units")
        now_s, now_ms = self._now(now)
        return await self.redis.update(account, reservation_key(session_id, rating_group), used, wanted,
                                       rating.dimension_for(tariff.unit, roaming), tariff.unit_size,
                                       tariff.price(roaming), now_s, now_ms, request_id, rating_group,
                                       tariff.currency)

    async def release(self, account: str, session_id: str, rating_group: int) -> int:
        return await self.redis.release(account, reservation_key(session_id, rating_group))

    async def reap_stale(self, max_age: float, *, now: float | None = None) -> int:
        """Release reservations older than `max_age` seconds (all subscribers). Returns units released."""
        _, now_ms = self._now(now)
        return await self.redis.reap(now_ms - int(max_age * 1000))

    async def expire_bundles(self, account: str | None = None, *, now: float | None = None) -> int:
        """Remove expired bundles of one account, or of all subscribers. Returns bundles removed."""
        now_s, now_ms = self._now(now)
        if account is None:
            return await self.redis.sweep_expired(now_s, now_ms)
        return await self.redis.expire(account, now_s, now_ms)

    # ---- ledger and rebuild
    async def ledger(self, account: str, limit: int = 100) -> list[LedgerEntry]:
        """The latest entries, newest first: PostgreSQL plus what Redis holds not yet written."""
        # Redis first: the writer trims an entry only after PostgreSQL committed it, so an entry pending at
        # this read is found in PostgreSQL by the next one (the other order can miss one in between).
        pending = await ledger_store.pending_entries(self.store, account)
        async with self.pool.acquire() as conn:
            rows = await conn.fetch("SELECT * FROM ledger WHERE account_id = $1 ORDER BY seq DESC LIMIT $2",
                                    account, limit)
        entries = {e.entry_id: e for e in map(ledger_store.ledger_entry_from_row, rows)}
        for e in pending:
            entries.setdefault(e.entry_id, e)
        return sorted(entries.values(), key=lambda e: e.seq, reverse=True)[:limit]

    async def rebuild(self, account: str | None = None) -> int:
        """Restore Redis from PostgreSQL for one account or all accounts. Returns accounts rebuilt."""
        if account is None:
            return await ledger_store.rebuild_all(self.pool, self.redis)
        await ledger_store.rebuild(self.pool, self.redis, account)
        return 1
