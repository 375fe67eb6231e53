"""Catalog changes shared by the CLI and the admin API (issue 13 point 4, issue 16 point 1): bundle update and
retire, tariff set (home or roaming price) and delete, hotspot package update, plan update and delete. Each
change is recorded in the `audit` table (who, when, what changed) in the transaction that makes it.

Bundles already bought keep what they were sold with: an update changes what later purchases get; a retired
bundle is no longer sold but stays in the catalog for the accounts and ledger entries that name it. Running
daemons see catalog changes at their next catalog reload (`[charging] expire_interval`).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any

import asyncpg

from ocs.charging.errors import UnknownBundle, UnknownTariff
from ocs.charging.model import Tariff, Unit
from ocs.policy.plans import Plan, plan_json, rule_json
from ocs.services.subscriber_admin import UnknownPlan, audit
from radius.hotspot import HotspotPackage


class CatalogConflict(ValueError):
    """A change the catalog's rules refuse (e.g. a roaming price before the home price)."""


def _changes(row: Any, wanted: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: {"from": row[k], "to": v} for k, v in wanted.items() if v is not None and v != row[k]}


async def update_bundle(pool: asyncpg.Pool, code: str, *, name: str | None = None, price: int | None = None,
                        validity_days: int | None = None, priority: int | None = None,
                        by: str | None = None) -> dict[str, dict[str, Any]]:
    """Change a bundle on sale for later purchases; returns {field: {from, to}} (empty: nothing changed)."""
    if price is not None and price < 0:
        raise ValueError("price: must be >= 0")
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow("SELECT name, price, currency, validity_days, priority FROM bundle_catalog "
                                  "WHERE code = $1 AND retired_at IS NULL FOR UPDATE", code)
        if row is None:
            raise UnknownBundle(code)
        changed = _changes(row, {"name": name, "price": price, "validity_days": validity_days,
                                 "priority": priority})
        if changed:
            sets = ", ".join(f"{k} = ${i}" for i, k in enumerate(changed, start=2))
            await conn.execute(f"UPDATE bundle_catalog SET {sets} WHERE code = $1", code,
                               *(c["to"] for c in changed.values()))
            await audit(conn, "bundle.update", code, changed, by=by)
        return changed


async def retire_bundle(pool: asyncpg.Pool, code: str, *, by: str | None = None) -> None:
    """Stop selling a bundle (bundles already bought run their course)."""
    async with pool.acquire() as conn, conn.transaction():
        done = await conn.fetchval("UPDATE bundle_catalog SET retired_at = now() WHERE code = $1 AND "
                                   "retired_at IS NULL RETURNING code", code)
        if done is None:
            raise UnknownBundle(code)
        await audit(conn, "bundle.retire", code, {}, by=by)


async def delete_tariff(pool: asyncpg.Pool, rating_group: int, *, by: str | None = None) -> dict[str, Any]:
    """Delete a rating group's tariff (usage in it is then refused as unpriced); returns what it was."""
    async with pool.acquire() as conn, conn.transaction():
        row = await conn.fetchrow("DELETE FROM tariffs WHERE rating_group = $1 RETURNING unit, unit_size, "
                                  "price_home, price_roaming, currency", rating_group)
        if row is None:
            raise UnknownTariff(str(rating_group))
        was = dict(row)
        await audit(conn, "tariff.delete", str(rating_group), {"was": was}, by=by)
        return was


def tariff_with_price(existing: Tariff | None, rating_group: int, unit: str, unit_size: int, price: int,
                      currency: str, *, roaming: bool) -> tuple[Tariff, list[str]]:
    """The tariff after `ocsd tariff set`: the home price (the first one is the roaming price too; another unit
    or block size resets the roaming price to the home price), or with `roaming` the roaming price of an
    existing tariff of the same unit and block size. Returns the tariff and notes for the operator."""
    if roaming:
        if existing is None:
            raise CatalogConflict(f"rating group {rating_group} has no tariff: set the home price first")
        if (existing.unit.value, existing.unit_size) != (unit, unit_size):
            raise CatalogConflict(f"rating group {rating_group} is priced per {existing.unit_size} "
                                  f"{existing.unit.value}: give --unit {existing.unit.value} --per "
                                  f"{existing.unit_size} with --roaming (unit and unit_size over HTTP), or set the "
                                  "home price with the new unit first")
        return Tariff(rating_group, Unit(unit), unit_size, existing.price_home, price, currency), []
    keep = existing is not None and (existing.unit.value, existing.unit_size) == (unit, unit_size)
    notes = []
    if existing is not None and not keep:
        notes.append(f"the unit changed from per {existing.unit_size} {existing.unit.value}: the roaming price "
                     f"(was {existing.price_roaming} minor units) is now the home price; set it again")
    roaming_price = existing.price_roaming if existing is not None and keep else price
    return Tariff(rating_group, Unit(unit), unit_size, price, roaming_price, currency), notes


async def update_package(pool: asyncpg.Pool, current: HotspotPackage, *, by: str | None = None,
                         **wanted: Any) -> dict[str, dict[str, Any]]:
    """Change a hotspot package for later sales (name, time, data, rate limit, validity, devices, price);
    vouchers and purchases already made keep what they got. Checked like a new package."""
    given = {k: v for k, v in wanted.items() if v is not None}
    new = replace(current, **given)  # HotspotPackage.__post_init__ checks the result
    changed = {k: {"from": getattr(current, k), "to": getattr(new, k)} for k in given
               if getattr(current, k) != getattr(new, k)}
    if changed:
        async with pool.acquire() as conn, conn.transaction():
            sets = ", ".join(f"{k} = ${i}" for i, k in enumerate(changed, start=2))
            await conn.execute(f"UPDATE hotspot_packages SET {sets} WHERE code = $1", current.code,
                               *(c["to"] for c in changed.values()))
            await audit(conn, "hotspot.package.update", current.code, changed, by=by)
    return changed


async def update_plan(pool: asyncpg.Pool, p: Plan, *, by: str | None = None) -> dict[str, Any]:
    """Replace a plan's settings (live Gx sessions get it at their next policy decision); returns the new plan
    as JSON (UnknownPlan: no such plan)."""
    async with pool.acquire() as conn, conn.transaction():
        done = await conn.fetchval(
            "UPDATE plans SET name = $2, ambr_ul = $3, ambr_dl = $4, qci = $5, arp = $6, pre_emption_capability = "
            "$7, pre_emption_vulnerability = $8, rules = $9::jsonb, throttle_ul = $10, throttle_dl = $11, "
            "monthly_octets = $12, monitoring_key = $13 WHERE code = $1 RETURNING code",
            p.code, p.name, p.ambr_ul, p.ambr_dl, p.qci, p.arp.priority, p.arp.pre_emption_capability,
            p.arp.pre_emption_vulnerability, json.dumps([rule_json(r) for r in p.rules]), p.throttle_ul,
            p.throttle_dl, p.monthly_octets, p.monitoring_key)
        if done is None:
            raise UnknownPlan(f"no plan {p.code}")
        shown = plan_json(p)
        await audit(conn, "plan.update", p.code, shown, by=by)
        return shown


async def delete_plan(pool: asyncpg.Pool, code: str, *, by: str | None = None) -> None:
    """Delete a plan no subscriber names (a plan in use is refused: CatalogConflict)."""
    async with pool.acquire() as conn, conn.transaction():
        users = await conn.fetchval("SELECT count(*) FROM subscribers WHERE plan_code = $1", code)
        if users:
            raise CatalogConflict(f"plan {code} is the plan of {users} subscriber(s): move them first")
        done = await conn.fetchval("DELETE FROM plans WHERE code = $1 RETURNING code", code)
        if done is None:
            raise UnknownPlan(f"no plan {code}")
        await audit(conn, "plan.delete", code, {}, by=by)


__all__ = ["CatalogConflict", "delete_plan", "delete_tariff", "retire_bundle", "tariff_with_price",
           "update_bundle", "update_package", "update_plan"]
