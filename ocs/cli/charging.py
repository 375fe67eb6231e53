"""`ocsd account|bundle|tariff|ledger ...`: money, the bundle catalog, tariffs and the ledger.

Every rule about money lives in ChargingService (ocs/services/charging.py); these commands only parse input,
call it and print the answer. A subscriber is named by exactly one of `--imsi IMSI` and `--msisdn MSISDN`.
A refused operation (ChargingError: insufficient funds, unknown subscriber, bad amount, ...) changed nothing and
ends with one line on stderr (or {"ok": false, "error": ...} with --json) and exit status 2.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from ocs.cli.common import EXIT_UNAVAILABLE, config_option, emit, fail, json_option, load_or_exit, run, with_backends
from ocs.provisioning import InvalidSubscriber
from ocs.provisioning import imsi as check_imsi
from ocs.provisioning import msisdn as check_msisdn

F = TypeVar("F", bound=Callable[..., Any])

BUNDLE_TYPES = ("data", "voice", "sms", "hybrid")
UNITS = ("octets", "seconds", "events")
INT32 = 2**31 - 1       # validity_days and priority are PostgreSQL integers
UNSIGNED32 = 2**32 - 1  # RFC 4006 §8.29 Rating-Group


# ---- shared helpers ---------------------------------------------------------------------------------------

def subscriber_options(f: F) -> F:
    """`--imsi IMSI` / `--msisdn MSISDN`: exactly one of them (checked by `_who`)."""
    f = click.option("--msisdn", metavar="MSISDN", help="The subscriber's MSISDN (or give --imsi).")(f)
    return click.option("--imsi", metavar="IMSI", help="The subscriber's IMSI (or give --msisdn).")(f)


class Who:
    """A subscriber named on the command line: by IMSI (used as is) or by MSISDN (looked up)."""

    def __init__(self, imsi: str | None, msisdn: str | None) -> None:
        self.imsi = imsi
        self.msisdn = msisdn

    def __str__(self) -> str:
        return self.imsi or self.msisdn or ""


def _msisdn(value: str, option: str, as_json: bool) -> str:
    try:
        return check_msisdn(value)
    except InvalidSubscriber as e:
        fail(f"--{option}: {str(e).partition(': ')[2]}", as_json=as_json)


def _who(imsi: str | None, msisdn: str | None, as_json: bool) -> Who:
    """Check the --imsi/--msisdn pair: exactly one of them, well formed."""
    if imsi is not None and msisdn is not None:
        fail("give either --imsi or --msisdn, not both", as_json=as_json)
    if imsi is None and msisdn is None:
        fail("give the subscriber with --imsi or --msisdn", as_json=as_json)
    if imsi is not None:
        try:
            return Who(check_imsi(imsi), None)
        except InvalidSubscriber as e:
            fail(f"--{e}", as_json=as_json)
    assert msisdn is not None
    return Who(None, _msisdn(msisdn, "msisdn", as_json))


async def _imsi_of(charging: Any, who: Who) -> str:
    """The IMSI of `who`; an MSISDN is looked up as an MSISDN only (the service's one-string form would take a
    15-digit MSISDN for an IMSI)."""
    if who.imsi is not None:
        return who.imsi
    return str(await charging.imsi_of_msisdn(who.msisdn))


async def _charging(backends: Any) -> Any:
    from ocs.services.charging import ChargingService

    charging = ChargingService(backends.redis, backends.pool)
    await charging.load()
    return charging


def _call(config: Any, as_json: bool, body: Callable[[Any], Any]) -> Any:
    """Run `body(charging)` with the backends open; a ChargingError (or a value the model refuses) becomes
    one line and exit status 2."""
    import asyncpg
    import redis.exceptions

    from ocs.charging.errors import ChargingError

    async def main(backends: Any) -> Any:
        try:
            charging = await _charging(backends)
            return await body(charging)
        except (ChargingError, ValueError) as e:
            fail(str(e), as_json=as_json)
        except asyncpg.UndefinedTableError:
            fail("the PostgreSQL database has no ocsd schema: run `ocsd db migrate` first", as_json=as_json)
        except (OSError, redis.exceptions.RedisError, asyncpg.PostgresError, asyncpg.InterfaceError) as e:
            fail(f"lost Redis or PostgreSQL: {e}", EXIT_UNAVAILABLE, as_json=as_json)

    return run(lambda: with_backends(config, main))


def _table(header: Sequence[str], rows: Sequence[Sequence[object]], empty: str) -> str:
    """Left-aligned text columns, numbers right-aligned."""
    if not rows:
        return empty
    cells = [[str(c) for c in header], *[[str(c) for c in r] for r in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    numeric = [all(isinstance(r[i], int) for r in rows) for i in range(len(header))]
    lines = []
    for r in cells:
        parts = [c.rjust(w) if num else c.ljust(w) for c, w, num in zip(r, widths, numeric, strict=True)]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def _iso_ms(ms: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(ms / 1000, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


# ---- account ----------------------------------------------------------------------------------------------

@click.group()
def account() -> None:
    """Monetary accounts: top-ups and balances."""


@account.command("topup")
@config_option
@subscriber_options
@click.option("--amount", required=True, type=int, metavar="MINOR", help="Amount in minor units (> 0).")
@click.option("--ref", required=True, metavar="REF",
              help="Your reference for this top-up: the same REF again credits nothing (safe to retry).")
@json_option
def account_topup(config_path: str, imsi: str | None, msisdn: str | None, amount: int, ref: str,
                  as_json: bool) -> None:
    """Credit airtime to a subscriber's balance; idempotent by --ref."""
    who = _who(imsi, msisdn, as_json)
    config = load_or_exit(config_path)

    async def body(charging: Any) -> tuple[str, Any]:
        target = await _imsi_of(charging, who)
        return target, await charging.top_up(target, amount, ref)

    target, result = _call(config, as_json, body)

    def text() -> str:
        if result.duplicate:
            return f"duplicate: ref {ref} was already applied to {target}; nothing credited, balance {result.balance}"
        return f"topped up {target} by {amount}: balance {result.balance}"

    emit({"ok": True, "imsi": target, "amount": amount, "ref": ref, "entry_id": result.entry_id,
          "balance": result.balance, "duplicate": result.duplicate}, as_json, text)


@account.command("show")
@config_option
@subscriber_options
@json_option
def account_show(config_path: str, imsi: str | None, msisdn: str | None, as_json: bool) -> None:
    """Show a subscriber's balance, the part held by open sessions, and bundles."""
    from ocs.cli.subscribers import _bundle_json

    who = _who(imsi, msisdn, as_json)
    config = load_or_exit(config_path)

    async def body(charging: Any) -> dict[str, Any]:
        view = await charging.account(await _imsi_of(charging, who))
        return {"imsi": view.imsi, "balance": view.balance, "held": view.held, "currency": view.currency,
                "bundles": [_bundle_json(b) for b in view.bundles]}

    out: dict[str, Any] = _call(config, as_json, body)

    def text() -> str:
        lines = [f"imsi      {out['imsi']}", f"balance   {out['balance']} {out['currency']}",
                 f"held      {out['held']}"]
        lines += [f"bundle    {b['bundle']} (priority {b['priority']}, expires {b['expires_at']}): "
                  f"data {b['data_octets']} octets, voice {b['voice_seconds']} s, sms {b['sms']}, "
                  f"roaming data {b['roaming_data_octets']} octets" for b in out["bundles"]]
        return "\n".join(lines)

    emit(out, as_json, text)


# ---- bundle -----------------------------------------------------------------------------------------------

@click.group()
def bundle() -> None:
    """The bundle catalog, purchases and gifts."""


def _definition_json(d: Any) -> dict[str, Any]:
    a = d.allowances
    return {"code": d.code, "name": d.name, "type": d.kind.value, "data_octets": a.data_octets,
            "voice_seconds": a.voice_seconds, "sms": a.sms_count, "roaming_data_octets": a.roaming_data_octets,
            "validity_days": d.validity_days, "priority": d.priority, "price": d.price, "currency": d.currency}


@bundle.command("create")
@config_option
@click.option("--code", required=True, help="Catalog code (letters, digits, '_', '.', '-'; up to 40).")
@click.option("--name", required=True, help="Display name.")
@click.option("--type", "kind", required=True, type=click.Choice(BUNDLE_TYPES), help="What the bundle serves.")
@click.option("--data-octets", type=int, default=0, show_default=True, metavar="N", help="Home data allowance.")
@click.option("--voice-seconds", type=int, default=0, show_default=True, metavar="N", help="Voice allowance.")
@click.option("--sms", type=int, default=0, show_default=True, metavar="N", help="SMS allowance.")
@click.option("--roaming-data-octets", type=int, default=0, show_default=True, metavar="N",
              help="Roaming data allowance.")
@click.option("--validity-days", required=True, type=click.IntRange(max=INT32), metavar="D",
              help="Days from activation to expiry (> 0).")
@click.option("--priority", required=True, type=click.IntRange(max=INT32), metavar="P",
              help="Drawing order: lower numbers are used first.")
@click.option("--price", required=True, type=int, metavar="MINOR", help="Price in minor units (>= 0).")
@click.option("--currency", metavar="XXX", help="ISO 4217 code [charging.currency of the config].")
@json_option
def bundle_create(config_path: str, code: str, name: str, kind: str, data_octets: int, voice_seconds: int, sms: int,
                  roaming_data_octets: int, validity_days: int, priority: int, price: int, currency: str | None,
                  as_json: bool) -> None:
    """Add a bundle to the catalog (an existing code is refused: catalog entries are not changed)."""
    from ocs.charging.model import Allowances, BundleDefinition, BundleKind

    config = load_or_exit(config_path)
    try:
        definition = BundleDefinition(code, name, BundleKind(kind),
                                      Allowances(data_octets, voice_seconds, sms, roaming_data_octets),
                                      validity_days, priority, price, currency or config.charging.currency)
    except ValueError as e:
        fail(str(e), as_json=as_json)

    async def body(charging: Any) -> None:
        await charging.create_bundle(definition)

    _call(config, as_json, body)
    emit({"ok": True, **_definition_json(definition)}, as_json,
         lambda: f"created bundle {code} ({name}): {price} {definition.currency}, {validity_days} days")


@bundle.command("list")
@config_option
@json_option
def bundle_list(config_path: str, as_json: bool) -> None:
    """The catalog, in drawing order (priority, then code)."""
    config = load_or_exit(config_path)

    async def body(charging: Any) -> list[Any]:
        return list(await charging.list_bundles())

    out = [_definition_json(d) for d in _call(config, as_json, body)]
    header = ("code", "name", "type", "data_octets", "voice_seconds", "sms", "roaming_data_octets", "validity_days",
              "priority", "price", "currency")
    emit(out, as_json, lambda: _table(header, [[b[k] for k in header] for b in out], "no bundles"))


@bundle.command("purchase")
@config_option
@subscriber_options
@click.option("--bundle", "code", required=True, metavar="CODE", help="Catalog code of the bundle.")
@click.option("--ref", metavar="REF", help="Your reference: the same REF again buys nothing [a new one].")
@json_option
def bundle_purchase(config_path: str, imsi: str | None, msisdn: str | None, code: str, ref: str | None,
                    as_json: bool) -> None:
    """Buy a bundle with the subscriber's balance (debit and activation together, or neither)."""
    who = _who(imsi, msisdn, as_json)
    config = load_or_exit(config_path)
    reference = ref or "cli-" + uuid.uuid4().hex

    async def body(charging: Any) -> tuple[str, Any]:
        target = await _imsi_of(charging, who)
        return target, await charging.purchase(target, code, reference)

    target, result = _call(config, as_json, body)

    def text() -> str:
        if result.duplicate:
            return (f"duplicate: ref {reference} was already applied to {target} (bundle id {result.bundle_id}); "
                    f"nothing bought, balance {result.balance}")
        return f"{target} bought {code} (bundle id {result.bundle_id}, ref {reference}): balance {result.balance}"

    emit({"ok": True, "imsi": target, "bundle": code, "ref": reference, "entry_id": result.entry_id,
          "bundle_id": result.bundle_id, "balance": result.balance, "duplicate": result.duplicate}, as_json, text)


@bundle.command("gift")
@config_option
@click.option("--from", "sender", required=True, metavar="MSISDN", help="Who pays.")
@click.option("--to", "recipient", required=True, metavar="MSISDN", help="Who gets the bundle.")
@click.option("--bundle", "code", required=True, metavar="CODE", help="Catalog code of the bundle.")
@click.option("--ref", metavar="GIFT_ID", help="Gift id: the same id again gives nothing more [a new one].")
@json_option
def bundle_gift(config_path: str, sender: str, recipient: str, code: str, ref: str | None, as_json: bool) -> None:
    """Give a bundle: the sender's balance pays, the recipient gets the bundle."""
    sender = _msisdn(sender, "from", as_json)
    recipient = _msisdn(recipient, "to", as_json)
    config = load_or_exit(config_path)
    gift_id = ref or "cli-" + uuid.uuid4().hex

    async def body(charging: Any) -> tuple[str, str, Any, int]:
        s_imsi = await _imsi_of(charging, Who(None, sender))
        r_imsi = await _imsi_of(charging, Who(None, recipient))
        result = await charging.gift(s_imsi, r_imsi, code, gift_id)
        return s_imsi, r_imsi, result, (await charging.account(s_imsi)).balance

    s_imsi, r_imsi, result, balance = _call(config, as_json, body)
    emit({"ok": True, "gift_id": result.gift_id, "bundle": code, "from": s_imsi, "to": r_imsi,
          "sender_entry": result.sender_entry, "recipient_entry": result.recipient_entry,
          "bundle_id": result.bundle_id, "sender_balance": balance}, as_json,
         lambda: f"gift {result.gift_id}: {sender} gave {code} to {recipient} (bundle id {result.bundle_id}); "
                 f"sender balance {balance}")


# ---- tariff -----------------------------------------------------------------------------------------------

@click.group()
def tariff() -> None:
    """Prices of rating groups (home and roaming, per started block of N units)."""


def _tariff_json(t: Any) -> dict[str, Any]:
    return {"rating_group": t.rating_group, "unit": t.unit.value, "unit_size": t.unit_size,
            "price_home": t.price_home, "price_roaming": t.price_roaming, "currency": t.currency}


@tariff.command("set")
@config_option
@click.option("--rating-group", required=True, type=click.IntRange(0, UNSIGNED32), metavar="RG",
              help="Rating-Group (RFC 4006).")
@click.option("--unit", required=True, type=click.Choice(UNITS), help="What is counted.")
@click.option("--price", required=True, type=int, metavar="MINOR", help="Price in minor units per N units (>= 0).")
@click.option("--per", "unit_size", required=True, type=int, metavar="N",
              help="Block size: usage is rounded up to a multiple of N (> 0).")
@click.option("--roaming", is_flag=True,
              help="Set the roaming price (the home price must be set first); without it, the home price.")
@click.option("--currency", metavar="XXX", help="ISO 4217 code [charging.currency of the config].")
@json_option
def tariff_set(config_path: str, rating_group: int, unit: str, price: int, unit_size: int, roaming: bool,
               currency: str | None, as_json: bool) -> None:
    """Set the home (or with --roaming, the roaming) price of a rating group.

    A tariff holds both prices for one unit and block size. The first home price also becomes the roaming
    price until --roaming sets another; setting the home price again keeps the roaming price, unless the unit
    or block size changes (the roaming price is then reset to the home price: set it again). --roaming must
    use the tariff's unit and block size."""
    from ocs.charging.model import Tariff, Unit

    config = load_or_exit(config_path)
    cur = currency or config.charging.currency
    notes: list[str] = []

    async def body(charging: Any) -> Any:
        existing = next((t for t in await charging.list_tariffs() if t.rating_group == rating_group), None)
        if roaming:
            if existing is None:
                fail(f"rating group {rating_group} has no tariff: set the home price first "
                     f"(ocsd tariff set --rating-group {rating_group} --unit {unit} --price MINOR --per {unit_size})",
                     as_json=as_json)
            if (existing.unit.value, existing.unit_size) != (unit, unit_size):
                fail(f"rating group {rating_group} is priced per {existing.unit_size} {existing.unit.value}: "
                     f"give --unit {existing.unit.value} --per {existing.unit_size} with --roaming, or set the home "
                     "price with the new unit first", as_json=as_json)
            new = Tariff(rating_group, Unit(unit), unit_size, existing.price_home, price, cur)
        else:
            keep = existing is not None and (existing.unit.value, existing.unit_size) == (unit, unit_size)
            if existing is not None and not keep:
                notes.append(f"the unit changed from per {existing.unit_size} {existing.unit.value}: the roaming "
                             f"price (was {existing.price_roaming}) is now the home price; set it with --roaming")
            new = Tariff(rating_group, Unit(unit), unit_size, price,
                         existing.price_roaming if existing is not None and keep else price, cur)
        await charging.set_tariff(new)
        return new

    new = _call(config, as_json, body)
    for note in notes:
        click.echo(f"note: {note}", err=True)
    emit({"ok": True, **_tariff_json(new)}, as_json,
         lambda: f"rating group {new.rating_group}: home {new.price_home}, roaming {new.price_roaming} "
                 f"{new.currency} per {new.unit_size} {new.unit.value}")


@tariff.command("list")
@config_option
@json_option
def tariff_list(config_path: str, as_json: bool) -> None:
    """All tariffs, by rating group."""
    config = load_or_exit(config_path)

    async def body(charging: Any) -> list[Any]:
        return list(await charging.list_tariffs())

    out = [_tariff_json(t) for t in _call(config, as_json, body)]
    header = ("rating_group", "unit", "unit_size", "price_home", "price_roaming", "currency")
    emit(out, as_json, lambda: _table(header, [[t[k] for k in header] for t in out], "no tariffs"))


# ---- ledger -----------------------------------------------------------------------------------------------

@click.group()
def ledger() -> None:
    """The ledger (every change of an account) and the rebuild of Redis from it."""


def _entry_json(e: Any) -> dict[str, Any]:
    return {"entry_id": e.entry_id, "seq": e.seq, "kind": e.kind, "amount": e.amount,
            "balance_after": e.balance_after, "ref": e.ref, "created_at": _iso_ms(e.created_ms),
            "detail": dict(e.detail)}


@ledger.command("show")
@config_option
@subscriber_options
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, metavar="N",
              help="The latest N entries.")
@json_option
def ledger_show(config_path: str, imsi: str | None, msisdn: str | None, limit: int, as_json: bool) -> None:
    """A subscriber's latest ledger entries, newest first (including those not yet written to PostgreSQL)."""
    who = _who(imsi, msisdn, as_json)
    config = load_or_exit(config_path)

    async def body(charging: Any) -> list[Any]:
        return list(await charging.ledger(await _imsi_of(charging, who), limit))

    out = [_entry_json(e) for e in _call(config, as_json, body)]
    header = ("seq", "created_at", "kind", "amount", "balance_after", "ref")
    emit(out, as_json, lambda: _table(header, [[e[k] for k in header] for e in out], "no ledger entries"))


@ledger.command("rebuild-redis")
@config_option
@subscriber_options
@json_option
def ledger_rebuild(config_path: str, imsi: str | None, msisdn: str | None, as_json: bool) -> None:
    """Restore balances, bundles, references and pending gifts in Redis from the PostgreSQL ledger: one
    subscriber (--imsi/--msisdn) or every account. Open reservations are dropped.

    Stop the daemon first: the ledger entries still waiting in Redis are written to PostgreSQL before the
    rebuild, but a change made while it runs would be overwritten."""
    who = None if imsi is None and msisdn is None else _who(imsi, msisdn, as_json)
    config = load_or_exit(config_path)

    async def body(charging: Any) -> tuple[int, int]:
        from ocs.store.ledger import PG_ERRORS, LedgerWriter

        writer = LedgerWriter(charging.store, charging.pool)
        try:
            drained = await writer.drain()
        except PG_ERRORS as e:
            fail(f"cannot drain the Redis ledger streams into PostgreSQL: {e}; nothing was rebuilt", 1,
                 as_json=as_json)
        finally:
            await writer.stop(drain=False)
        rebuilt = await charging.rebuild(None if who is None else await _imsi_of(charging, who))
        return drained, rebuilt

    drained, rebuilt = _call(config, as_json, body)
    emit({"ok": True, "drained": drained, "rebuilt": rebuilt}, as_json,
         lambda: f"wrote {drained} pending ledger entries to PostgreSQL; rebuilt {rebuilt} "
                 f"account{'' if rebuilt == 1 else 's'}")


GROUPS = (account, bundle, tariff, ledger)
