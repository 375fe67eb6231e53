"""`ocsd bundle update|retire CODE` and `ocsd tariff delete RG` (issue 13 point 4), each recorded in the
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
    from ocs.services.subscriber_admin import audit

    config = load_or_exit(config_path)

    async def body(backends: Any) -> dict[str, Any]:
        async with backends.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow("SELECT name, price, currency, validity_days, priority FROM bundle_catalog "
                                      "WHERE code = $1 AND retired_at IS NULL FOR UPDATE", code)
            if row is None:
                fail(f"no bundle {code} on sale", as_json=as_json)
            new_price = resolve_amount(price, price_minor, row["currency"], as_json, "price", required=False)
            if new_price is not None and new_price < 0:
                fail("--price: must be >= 0", as_json=as_json)
            wanted = {"name": name, "price": new_price, "validity_days": validity_days, "priority": priority}
            changed = {k: {"from": row[k], "to": v} for k, v in wanted.items() if v is not None and v != row[k]}
            if changed:
                sets = ", ".join(f"{k} = ${i}" for i, k in enumerate(changed, start=2))
                await conn.execute(f"UPDATE bundle_catalog SET {sets} WHERE code = $1", code,
                                   *(c["to"] for c in changed.values()))
                await audit(conn, "bundle.update", code, changed)
            return changed

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
    from ocs.services.subscriber_admin import audit

    config = load_or_exit(config_path)

    async def body(backends: Any) -> None:
        async with backends.pool.acquire() as conn, conn.transaction():
            done = await conn.fetchval("UPDATE bundle_catalog SET retired_at = now() WHERE code = $1 AND "
                                       "retired_at IS NULL RETURNING code", code)
            if done is None:
                fail(f"no bundle {code} on sale", as_json=as_json)
            await audit(conn, "bundle.retire", code, {})

    run(lambda: with_backends(config, body))
    emit({"ok": True, "bundle": code, "retired": True}, as_json, lambda: f"retired bundle {code}")


@tariff.command("delete")
@config_option
@click.argument("rating_group", type=click.IntRange(0, UNSIGNED32), metavar="RG")
@json_option
def tariff_delete(config_path: str, rating_group: int, as_json: bool) -> None:
    """Delete a rating group's tariff (usage in it is then refused as unpriced); audited."""
    from ocs.services.subscriber_admin import audit

    config = load_or_exit(config_path)

    async def body(backends: Any) -> dict[str, Any]:
        async with backends.pool.acquire() as conn, conn.transaction():
            row = await conn.fetchrow("DELETE FROM tariffs WHERE rating_group = $1 RETURNING unit, unit_size, "
                                      "price_home, price_roaming, currency", rating_group)
            if row is None:
                fail(f"rating group {rating_group} has no tariff", as_json=as_json)
            was = dict(row)
            await audit(conn, "tariff.delete", str(rating_group), {"was": was})
            return was

    was = run(lambda: with_backends(config, body))
    emit({"ok": True, "rating_group": rating_group, "was": was}, as_json,
         lambda: f"deleted the tariff of rating group {rating_group}")


__all__ = ["bundle_retire", "bundle_update", "tariff_delete"]
