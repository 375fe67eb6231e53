"""Plans in PostgreSQL (issue 10 point 1): create (audited), list, get, and a subscriber's plan."""

from __future__ import annotations

import json
from typing import Any

import asyncpg

from ocs.policy.plans import Arp, Plan, plan_json, rule_from, rule_json
from ocs.services.subscriber_admin import audit

_COLUMNS = ("code, name, ambr_ul, ambr_dl, qci, arp, pre_emption_capability, pre_emption_vulnerability, "
            "rules::text AS rules, throttle_ul, throttle_dl, monthly_octets, monitoring_key")


class PlanExists(Exception):
    pass


def _plan(row: asyncpg.Record) -> Plan:
    return Plan(code=row["code"], name=row["name"], ambr_ul=row["ambr_ul"], ambr_dl=row["ambr_dl"], qci=row["qci"],
                arp=Arp(row["arp"], row["pre_emption_capability"], row["pre_emption_vulnerability"]),
                rules=tuple(rule_from(r) for r in json.loads(row["rules"])),
                throttle_ul=row["throttle_ul"], throttle_dl=row["throttle_dl"],
                monthly_octets=row["monthly_octets"], monitoring_key=row["monitoring_key"])


async def create_plan(pool: asyncpg.Pool, p: Plan, *, by: str | None = None) -> None:
    async with pool.acquire() as conn, conn.transaction():
        try:
            await conn.execute(
                "INSERT INTO plans (code, name, ambr_ul, ambr_dl, qci, arp, pre_emption_capability, "
                "pre_emption_vulnerability, rules, throttle_ul, throttle_dl, monthly_octets, monitoring_key) "
                "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10, $11, $12, $13)",
                p.code, p.name, p.ambr_ul, p.ambr_dl, p.qci, p.arp.priority, p.arp.pre_emption_capability,
                p.arp.pre_emption_vulnerability, json.dumps([rule_json(r) for r in p.rules]),
                p.throttle_ul, p.throttle_dl, p.monthly_octets, p.monitoring_key)
        except asyncpg.UniqueViolationError:
            raise PlanExists(f"plan {p.code} exists") from None
        await audit(conn, "plan.create", p.code, plan_json(p), by=by)


async def list_plans(pool: asyncpg.Pool) -> list[Plan]:
    return [_plan(r) for r in await pool.fetch(f"SELECT {_COLUMNS} FROM plans ORDER BY code")]


async def get_plan(pool: asyncpg.Pool, code: str) -> Plan | None:
    row = await pool.fetchrow(f"SELECT {_COLUMNS} FROM plans WHERE code = $1", code)
    return _plan(row) if row is not None else None


async def plan_of(pool: asyncpg.Pool, imsi: str, default_plan: str | None) -> Plan | None:
    """The subscriber's plan, else the default plan, else None."""
    code = await pool.fetchval("SELECT plan_code FROM subscribers WHERE imsi = $1", imsi) or default_plan
    return await get_plan(pool, code) if code else None


def plan_summary(p: Plan) -> dict[str, Any]:
    return {"code": p.code, "name": p.name, "ambr_ul": p.ambr_ul, "ambr_dl": p.ambr_dl, "qci": p.qci,
            "arp": p.arp.priority, "rules": len(p.rules), "throttle_ul": p.throttle_ul, "throttle_dl": p.throttle_dl,
            "monthly_octets": p.monthly_octets}


__all__ = ["PlanExists", "create_plan", "get_plan", "list_plans", "plan_of", "plan_summary"]
