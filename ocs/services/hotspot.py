"""Hotspot operations shared by the RADIUS application, the CLI and housekeeping: packages, vouchers (each
owns an account), login and accounting against the Redis allowance, session records written behind.

Request path (login, accounting): Redis only, behind a store guard (a Redis down or hung: StoreUnavailable,
answered as a transient refusal). Provisioning and views read and write PostgreSQL.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import asyncpg

from ocs.services.charging import ChargingService
from ocs.store.guard import StoreGuard
from ocs.store.hotspot_redis import HotspotRedis, LiveSession
from ocs.store.redis_client import RedisStore
from ocs.subscribers.errors import Blocked
from radius.errors import BoundToOtherDevice, TooManyDevices, UnknownVoucher, VoucherExpired, VoucherUsedUp
from radius.hotspot import HotspotPackage, InvalidPackage, Remaining, voucher_code

# "blocked": `ocsd account block` (ocs.services.account_status), an Access-Reject (RFC 2865 §4.3) saying so
REFUSALS: dict[str, Callable[[str], Exception]] = {
    "unknown": UnknownVoucher, "expired": VoucherExpired, "used-up": VoucherUsedUp,
    "other-device": BoundToOtherDevice, "too-many": TooManyDevices, "blocked": Blocked}


class UnknownPackage(InvalidPackage):
    pass


class PackageExists(InvalidPackage):
    pass


@dataclass(frozen=True, slots=True)
class AccountingOutcome:
    account: str
    time_left: int
    data_left: int | None
    exhausted: bool


def _dt(seconds: int | str) -> datetime:
    return datetime.fromtimestamp(int(seconds), UTC)


class HotspotService:
    def __init__(self, store: RedisStore, pool: asyncpg.Pool, guard: StoreGuard | None = None) -> None:
        self.redis = HotspotRedis(store)
        self.pool = pool
        self.guard = guard or StoreGuard("redis", 1.0)
        # voucher code -> account: a voucher never changes account, so the request path asks Redis once per code
        self._voucher_accounts: dict[str, str] = {}

    # --- packages and vouchers (PostgreSQL, then Redis) ------------------------------------------------------
    async def create_package(self, p: HotspotPackage) -> None:
        async with self.pool.acquire() as conn:
            done = await conn.fetchval(
                "INSERT INTO hotspot_packages (code, name, time_seconds, data_octets, rate_limit, validity_hours, "
                "devices, price) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT DO NOTHING RETURNING code",
                p.code, p.name, p.time_seconds, p.data_octets, p.rate_limit, p.validity_hours, p.devices, p.price)
        if done is None:
            raise PackageExists(f"package {p.code!r} exists")

    async def package(self, code: str) -> HotspotPackage:
        async with self.pool.acquire() as conn:
            r = await conn.fetchrow("SELECT * FROM hotspot_packages WHERE code = $1", code)
        if r is None:
            raise UnknownPackage(f"no package {code!r}")
        return HotspotPackage(r["code"], r["name"], r["time_seconds"], r["data_octets"], r["rate_limit"],
                              r["validity_hours"], r["devices"], r["price"])

    async def packages(self) -> list[HotspotPackage]:
        async with self.pool.acquire() as conn:
            codes = [r["code"] for r in await conn.fetch("SELECT code FROM hotspot_packages ORDER BY code")]
        return [await self.package(c) for c in codes]

    async def generate_vouchers(self, charging: ChargingService, package_code: str, count: int, *, length: int,
                                currency: str, bind_mac: bool = False,
                                progress: Callable[[int], None] | None = None, mac: str = "",
                                batch: str | None = None) -> list[str]:
        """`count` vouchers of a package, each with an account of its own holding the package; `mac` binds them
        to that device (Calling-Station-Id as the router sends it); `batch` names the batch (default: random)."""
        p = await self.package(package_code)
        batch = batch or "b" + secrets.token_hex(6)
        codes: list[str] = []
        while len(codes) < count:
            code = voucher_code(secrets.token_bytes(2 * length + 8), length)
            account = await charging.open_account(currency)
            async with self.pool.acquire() as conn:
                done = await conn.fetchval(
                    "INSERT INTO hotspot_vouchers (code, account_id, package_code, bind_mac, batch) "
                    "VALUES ($1, $2, $3, $4, $5) ON CONFLICT (code) DO NOTHING RETURNING code",
                    code, account, p.code, bind_mac, batch)
            if done is None:
                continue  # the code exists (rare): draw another; the empty account stays unused
            # A voucher's password is its code (the login page may send it as both user and password).
            await self.redis.provision(account, "voucher", code, code, time_seconds=p.time_seconds,
                                       data_octets=p.data_octets, rate_limit=p.rate_limit,
                                       validity_hours=p.validity_hours, devices=p.devices, bind_mac=bind_mac,
                                       mac=mac)
            codes.append(code)
            if progress is not None:
                progress(1)
        return codes

    async def vouchers_of_batch(self, batch: str) -> list[tuple[str, str]]:
        """(code, account) of the vouchers of `batch` (a payment's voucher: batch "pay:<payment id>")."""
        async with self.pool.acquire() as conn:
            rows = await conn.fetch("SELECT code, account_id FROM hotspot_vouchers WHERE batch = $1 ORDER BY code",
                                    batch)
        return [(r["code"], r["account_id"]) for r in rows]

    async def purchase(self, charging: ChargingService, msisdn: str, package_code: str, pin: str,
                       ref: str) -> dict[str, Any]:
        """A mobile subscriber buys a package with airtime: the price is debited from the account the MSISDN
        points at (idempotent by `ref`; InsufficientFunds when it cannot pay), then the allowance lands in
        that account and the subscriber logs in with the MSISDN as user name and `pin` as password. A new
        purchase replaces the account's previous hotspot allowance."""
        if not pin or len(pin) > 64:
            raise InvalidPackage("the PIN must be 1 to 64 characters")
        p = await self.package(package_code)
        account = await charging.account_of_msisdn(msisdn)
        if p.price:
            await charging.adjust(account, -p.price, ref, f"hotspot package {p.code}")
        await self.redis.provision(account, "hsuser", msisdn, pin, time_seconds=p.time_seconds,
                                   data_octets=p.data_octets, rate_limit=p.rate_limit,
                                   validity_hours=p.validity_hours, devices=p.devices, bind_mac=False)
        return {"account": account, "msisdn": msisdn, "package": p.code, "price": p.price, "ref": ref}

    async def voucher(self, code: str, now: int | None = None) -> dict[str, Any]:
        """The voucher as `ocsd voucher show` prints it."""
        account = await self.redis.account_of("voucher", code)
        if account is None:
            raise UnknownVoucher(code)
        hs = await self.redis.allowance(account)
        sessions = await self.redis.sessions(account)
        now = int(time.time()) if now is None else now
        t, d, exp = int(hs["t"]), int(hs["d"]), int(hs["exp"])
        if exp and now >= exp:
            status = "expired"
        elif t <= 0 or d == 0:
            status = "used-up"
        elif sessions:
            status = "online"
        elif exp:
            status = "active"
        else:
            status = "unused"
        return {"code": code, "account": account, "status": status, "time_left_seconds": t,
                "data_left_octets": None if d < 0 else d, "bound_mac": hs.get("mac") or None,
                "validity_end": _dt(exp).isoformat() if exp else None, "rate_limit": hs["rate"],
                "sessions": [session_json(s) for s in sessions]}

    # --- the request path (Redis only) --------------------------------------------------------------------------
    async def account_of_user(self, user: str) -> str:
        account = self._voucher_accounts.get(user)
        if account is not None:
            return account
        for kind in ("voucher", "hsuser"):
            account = await self.guard.call(self.redis.account_of, kind, user)
            if account is not None:
                if kind == "voucher" and len(self._voucher_accounts) < 1_000_000:
                    self._voucher_accounts[user] = account
                return account
        raise UnknownVoucher(user)

    async def login(self, user: str, mac: str, now: int, password_ok: Callable[[bytes], bool]) -> tuple[str, Remaining]:
        """The account of `user` and what it has left, or a HotspotRefusal. The password is checked before
        anything changes (validity start, MAC binding): one script call, two on a first login."""
        account = await self.account_of_user(user)
        r = await self.guard.call(self.redis.login, account, now, mac, False)
        if r["status"] != "ok":
            raise REFUSALS[r["status"]](user)
        if not password_ok(r["pw"].encode()):
            raise UnknownVoucher(user)
        if r["needs"]:
            r = await self.guard.call(self.redis.login, account, now, mac, True)
            if r["status"] != "ok":
                raise REFUSALS[r["status"]](user)
        return account, Remaining(int(r["t"]), None if int(r["d"]) < 0 else int(r["d"]), r["rate"], int(r["exp"]))

    async def accounting(self, account: str, params: dict[str, Any]) -> AccountingOutcome:
        r = await self.guard.call(self.redis.account_request, account, params)
        d = int(r["d"])
        return AccountingOutcome(account, int(r["t"]), None if d < 0 else d, bool(r["exhausted"]))

    async def live_sessions(self) -> list[LiveSession]:
        out: list[LiveSession] = []
        accounts = sorted({a for a, _ in await self.redis.live_members()})
        for account in accounts:
            out.extend(await self.redis.sessions(account))
        return out

    async def close_sessions(self, account: str, sessions: list[LiveSession], now: int, cause: str) -> int:
        for s in sessions:
            await self.accounting(account, {"sid": s.session_id, "status": "stop", "inp": s.input_octets,
                                            "outp": s.output_octets, "time": s.session_time, "now": now,
                                            "client": s.client, "user": s.user, "mac": s.mac, "ip": s.framed_ip,
                                            "nas_ip": s.nas_ip, "src": s.source, "cause": cause})
        return len(sessions)

    async def close_client_sessions(self, client: str, now: int, cause: str) -> int:
        """Accounting-On/Off (RFC 2866 §5.1): the router restarted; every session it had is over."""
        n = 0
        for s in await self.live_sessions():
            if s.client == client:
                n += await self.close_sessions(s.account, [s], now, cause)
        return n

    # --- write-behind ----------------------------------------------------------------------------------------
    async def write_closed_sessions(self) -> int:
        """Move closed-session records from the Redis stream into PostgreSQL (idempotent by primary key)."""
        entries = await self.redis.read_closed()
        if not entries:
            return 0
        rows = [(f["account"], f["sid"], f["client"], f["user"], f["mac"], f["ip"], _dt(f["started"]),
                 _dt(f["stopped"]), int(f["inp"]), int(f["outp"]), int(f["time"]), f["cause"]) for _, _, f in entries]
        async with self.pool.acquire() as conn:
            await conn.executemany(
                "INSERT INTO hotspot_sessions (account_id, acct_session_id, client, user_name, calling_station_id, "
                "framed_ip, started_at, stopped_at, input_octets, output_octets, session_time, terminate_cause) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) ON CONFLICT DO NOTHING", rows)
        by_key: dict[str, list[str]] = {}
        for key, entry_id, _ in entries:
            by_key.setdefault(key, []).append(entry_id)
        for key, ids in by_key.items():
            await self.redis.ack_closed(key, ids)
        return len(entries)


def session_json(s: LiveSession) -> dict[str, Any]:
    return {"acct_session_id": s.session_id, "account": s.account, "user": s.user, "client": s.client,
            "calling_station_id": s.mac, "framed_ip": s.framed_ip, "input_octets": s.input_octets,
            "output_octets": s.output_octets, "session_time": s.session_time, "started": _dt(s.started).isoformat()}


__all__ = ["AccountingOutcome", "HotspotService", "PackageExists", "UnknownPackage",
           "session_json"]
