"""`ocsd plan create|list|show` (issue 10 point 1): Gx plans (APN-AMBR, default bearer QCI/ARP, charging rules
from a TOML rules file, see conf/gx_rules.example.toml, and the throttle used when the data runs out).

    ocsd plan create --code CODE --name NAME --ambr-ul BPS --ambr-dl BPS --qci N --arp N [--rules FILE.toml]
                     [--throttle-ul BPS --throttle-dl BPS] [--monthly-octets N --monitoring-key KEY] [--json]
    ocsd plan list [--json]
    ocsd plan show CODE [--json]
"""

from __future__ import annotations

import tomllib
from typing import Any

import click

from ocs.cli.common import config_option, emit, fail, json_option, load_or_exit, run, with_backends
from ocs.cli.money import table
from ocs.policy.plans import MAX_BPS, Arp, ChargingRule, Plan, PlanError, plan_json, rules_from

BPS = click.IntRange(1, MAX_BPS)


@click.group()
def plan() -> None:
    """Gx plans: QoS, charging rules and the fair-use throttle."""


@plan.command("create")
@config_option
@click.option("--code", required=True, help="Plan code (what `subscriber set --plan` names).")
@click.option("--name", required=True, help="Display name.")
@click.option("--ambr-ul", required=True, type=BPS, metavar="BPS", help="APN-AMBR uplink, bits/s.")
@click.option("--ambr-dl", required=True, type=BPS, metavar="BPS", help="APN-AMBR downlink, bits/s.")
@click.option("--qci", required=True, type=click.IntRange(1, 255), metavar="N", help="Default bearer QCI.")
@click.option("--arp", required=True, type=click.IntRange(1, 15), metavar="N",
              help="Default bearer ARP priority level (1 highest .. 15).")
@click.option("--rules", "rules_file", type=click.Path(dir_okay=False), metavar="FILE.toml",
              help="Charging rules ([[rule]] tables; conf/gx_rules.example.toml).")
@click.option("--throttle-ul", type=BPS, metavar="BPS", help="APN-AMBR uplink once the data runs out.")
@click.option("--throttle-dl", type=BPS, metavar="BPS", help="APN-AMBR downlink once the data runs out.")
@click.option("--monthly-octets", type=click.IntRange(1, 2**63 - 1), metavar="N",
              help="Usage monitoring: octets a billing month allows before the throttle (with --monitoring-key).")
@click.option("--monitoring-key", metavar="KEY", help="Usage monitoring: the Monitoring-Key the PCEF reports under.")
@json_option
def plan_create(config_path: str, code: str, name: str, ambr_ul: int, ambr_dl: int, qci: int, arp: int,
                rules_file: str | None, throttle_ul: int | None, throttle_dl: int | None,
                monthly_octets: int | None, monitoring_key: str | None, as_json: bool) -> None:
    """Add a plan (an existing code is refused); audited."""
    from ocs.services.plans import PlanExists, create_plan

    config = load_or_exit(config_path)
    try:
        rules: tuple[ChargingRule, ...] = ()
        if rules_file is not None:
            with open(rules_file, "rb") as f:
                rules = rules_from(tomllib.load(f))
        p = Plan(code, name, ambr_ul, ambr_dl, qci, Arp(arp), rules, throttle_ul, throttle_dl, monthly_octets,
                 monitoring_key)
    except OSError as e:
        fail(f"--rules: {e.strerror}: {rules_file}", as_json=as_json)
    except tomllib.TOMLDecodeError as e:
        fail(f"--rules: {rules_file}: {e}", as_json=as_json)
    except PlanError as e:
        fail(str(e), as_json=as_json)

    async def body(backends: Any) -> None:
        try:
            await create_plan(backends.pool, p)
        except PlanExists as e:
            fail(str(e), as_json=as_json)

    run(lambda: with_backends(config, body))
    emit({"ok": True, **plan_json(p)}, as_json, lambda: f"created plan {code} ({name}), {len(p.rules)} rules")


@plan.command("list")
@config_option
@json_option
def plan_list(config_path: str, as_json: bool) -> None:
    """Every plan, by code."""
    from ocs.services.plans import list_plans, plan_summary

    config = load_or_exit(config_path)

    async def body(backends: Any) -> list[dict[str, Any]]:
        return [plan_summary(p) for p in await list_plans(backends.pool)]

    rows = run(lambda: with_backends(config, body))
    header = ("code", "name", "ambr_ul", "ambr_dl", "qci", "arp", "rules", "throttle")
    emit(rows, as_json, lambda: table(header, [
        [r["code"], r["name"], r["ambr_ul"], r["ambr_dl"], r["qci"], r["arp"], r["rules"],
         f"{r['throttle_ul']}/{r['throttle_dl']}" if r["throttle_ul"] else "-"] for r in rows], "no plans"))


@plan.command("show")
@config_option
@click.argument("code")
@json_option
def plan_show(config_path: str, code: str, as_json: bool) -> None:
    """One plan with its charging rules."""
    from ocs.services.plans import get_plan

    config = load_or_exit(config_path)

    async def body(backends: Any) -> Plan | None:
        return await get_plan(backends.pool, code)

    p = run(lambda: with_backends(config, body))
    if p is None:
        fail(f"no plan {code}", as_json=as_json)
    shown = plan_json(p)

    def text() -> str:
        lines = [f"{k}: {v}" for k, v in shown.items() if k != "rules"]
        for r in shown["rules"]:
            lines.append("rule " + r["name"] + ": " + ", ".join(f"{k}={v}" for k, v in r.items() if k != "name"))
        return "\n".join(lines)

    emit(shown, as_json, text)


GROUPS = (plan,)

__all__ = ["GROUPS", "plan"]
