"""`ocsd bundle update|retire CODE` and `ocsd tariff delete RG` (issue 13 point 4), `ocsd hotspot package
update CODE` and `ocsd plan delete CODE` (issue 16: the services of the admin API's PATCH/DELETE), each recorded in the
`audit` table (who, when, what changed). Bundles already bought keep what they were sold with: an update
changes what later purchases get; a retired bundle is no longer sold (`bundle list` and `purchase` no longer
see it) but stays in the catalog for the accounts and ledger entries that name it. Money is in major units
(`--price 15.00` or `--price-minor 1500`). Running daemons see the change at their next catalog reload
(`[charging] expire_interval`).
"""

from __future__ import annotations

from typing import Any

import click

from ocs.cli.charging import INT32, UNSIGNED32, bundle, tariff
from ocs.cli.common import (
    amount_options,
    config_option,
    emit,
    fail,
    json_option,
    load_or_exit,
    resolve_amount,
    run,
    with_backends,
)
from ocs.cli.hotspot import package
from ocs.cli.plans import plan


@bundle.command("update")
@config_option
@click.argument("code")
@click.option("--name", help="A new display name.")
@amount_options("price", required=False, what="A new price (>= 0)")
@click.option("--validity-days", type=click.IntRange(1, INT32), metavar="D", help="New days from activation.")
@click.option("--priority", type=click.IntRange(0, INT32), metavar="P", help="New drawing order.")
@json_option
def bundle_update(config_path: str, code: str, name: str | None, price: str | None, price_minor: int | None,
                  validity_days: int | None, priority: int | None, as_json: bool) -> None:
    """Change a bundle for later purchases (name, price, validity, priority); audited."""
    from ocs.charging.errors import UnknownBundle
    from ocs.services.catalog import update_bundle

    config = load_or_exit(config_path)

    async def body(backends: Any) -> dict[str, Any]:
        currency = await backends.pool.fetchval("SELECT currency FROM bundle_catalog WHERE code = $1 AND "
                                                "retired_at IS NULL", code)
        if currency is None:
            fail(f"no bundle {code} on sale", as_json=as_json)
        new_price = resolve_amount(price, price_minor, currency, as_json, "price", required=False)
        try:
            return await update_bundle(backends.pool, code, name=name, price=new_price,
                                       validity_days=validity_days, priority=priority)
        except UnknownBundle:
            fail(f"no bundle {code} on sale", as_json=as_json)
        except ValueError as e:
            fail(f"--{e}", as_json=as_json)

    changed = run(lambda: with_backends(config, body))
    emit({"ok": True, "bundle": code, "changed": changed}, as_json,
         lambda: "\n".join(f"{code}: {k} {v['from']} -> {v['to']}" for k, v in changed.items())
         or f"{code}: nothing to change")


@bundle.command("retire")
@config_option
@click.argument("code")
@json_option
def bundle_retire(config_path: str, code: str, as_json: bool) -> None:
    """Stop selling a bundle (bundles already bought run their course); audited."""
    from ocs.charging.errors import UnknownBundle
    from ocs.services.catalog import retire_bundle

    config = load_or_exit(config_path)

    async def body(backends: Any) -> None:
        try:
            await retire_bundle(backends.pool, code)
        except UnknownBundle:
            fail(f"no bundle {code} on sale", as_json=as_json)

    run(lambda: with_backends(config, body))
    emit({"ok": True, "bundle": code, "retired": True}, as_json, lambda: f"retired bundle {code}")


@tariff.command("delete")
@config_option
@click.argument("rating_group", type=click.IntRange(0, UNSIGNED32), metavar="RG")
@json_option
def tariff_delete(config_path: str, rating_group: int, as_json: bool) -> None:
    """Delete a rating group's tariff (usage in it is then refused as unpriced); audited."""
    from ocs.charging.errors import UnknownTariff
    from ocs.services.catalog import delete_tariff

    config = load_or_exit(config_path)

    async def body(backends: Any) -> dict[str, Any]:
        try:
            return await delete_tariff(backends.pool, rating_group)
        except UnknownTariff:
            fail(f"rating group {rating_group} has no tariff", as_json=as_json)

    was = run(lambda: with_backends(config, body))
    emit({"ok": True, "rating_group": rating_group, "was": was}, as_json,
         lambda: f"deleted the tariff of rating group {rating_group}")


@package.command("update")
@config_option
@click.argument("code")
@click.option("--name", help="A new display name.")
@click.option("--time-seconds", type=click.IntRange(1, INT32), metavar="N", help="New time allowance.")
@click.option("--data-octets", type=click.IntRange(1, 2**63 - 1), metavar="N", help="New data allowance.")
@click.option("--rate-limit", metavar="RATE", help='New Mikrotik-Rate-Limit, e.g. "2M/4M".')
@click.option("--validity-hours", type=click.IntRange(1, INT32), metavar="H", help="New hours from first login.")
@click.option("--devices", type=click.IntRange(1, 10_000), metavar="N", help="New devices online at once.")
@click.option("--price", type=click.IntRange(0, 2**63 - 1), metavar="MINOR", help="New price in minor units.")
@json_option
def package_update(config_path: str, code: str, name: str | None, time_seconds: int | None,
                   data_octets: int | None, rate_limit: str | None, validity_hours: int | None, devices: int | None,
                   price: int | None, as_json: bool) -> None:
    """Change a hotspot package for later sales (vouchers already made keep what they got); audited."""
    from ocs.cli.money import call
    from ocs.services.catalog import update_package
    from ocs.services.hotspot import HotspotService

    config = load_or_exit(config_path)

    async def body(charging: Any) -> dict[str, Any]:
        current = await HotspotService(charging.store, charging.pool).package(code)
        return await update_package(charging.pool, current, name=name, time_seconds=time_seconds,
                                    data_octets=data_octets, rate_limit=rate_limit, validity_hours=validity_hours,
                                    devices=devices, price=price)

    changed = call(config, as_json, body)  # an unknown package or a refused value: one line, exit 2
    emit({"ok": True, "package": code, "changed": changed}, as_json,
         lambda: "\n".join(f"{code}: {k} {v['from']} -> {v['to']}" for k, v in changed.items())
         or f"{code}: nothing to change")


@plan.command("delete")
@config_option
@click.argument("code")
@json_option
def plan_delete(config_path: str, code: str, as_json: bool) -> None:
    """Delete a plan no subscriber names; audited."""
    from ocs.services.catalog import CatalogConflict, delete_plan
    from ocs.services.subscriber_admin import UnknownPlan

    config = load_or_exit(config_path)

    async def body(backends: Any) -> None:
        try:
            await delete_plan(backends.pool, code)
        except (UnknownPlan, CatalogConflict) as e:
            fail(str(e), as_json=as_json)

    run(lambda: with_backends(config, body))
    emit({"ok": True, "plan": code, "deleted": True}, as_json, lambda: f"deleted plan {code}")


__all__ = ["bundle_retire", "bundle_update", "package_update", "plan_delete", "tariff_delete"]
