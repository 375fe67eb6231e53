"""`ocsd bundle|tariff ...`: the bundle catalog, purchases and gifts, and tariffs.

Every rule about money lives in ChargingService (ocs/services/charging.py); these commands only parse input,
call it and print the answer. Whose money: exactly one of `--account ID`, `--imsi IMSI` or `--msisdn MSISDN`
(a SIM names the account it points at), the same on every money command.
A refused operation (ChargingError: insufficient funds, unknown subscriber, bad amount, ...) changed nothing and
ends with one line on stderr (or {"ok": false, "error": ...} with --json) and exit status 2.
"""

from __future__ import annotations

import uuid
from typing import Any

import click

from ocs.charging.currencies import format_major
from ocs.cli.accounts import account, ledger
from ocs.cli.common import (
    amount_options,
    config_option,
    emit,
    fail,
    json_option,
    load_or_exit,
    money,
    resolve_amount,
)
from ocs.cli.money import (
    Who,
    account_of,
    account_options,
    call,
    check_msisdn_option,
    check_ref,
    parse_who,
    table,
)

BUNDLE_TYPES = ("data", "voice", "sms", "hybrid")
UNITS = ("octets", "seconds", "events")
INT32 = 2**31 - 1       # validity_days and priority are PostgreSQL integers
UNSIGNED32 = 2**32 - 1  # RFC 4006 §8.29 Rating-Group


def _price(major: str | None, minor: int | None, currency: str, as_json: bool) -> int:
    from ocs.charging.currencies import check_currency

    try:
        check_currency(currency)
    except ValueError as e:
        fail(str(e), as_json=as_json)
    value = resolve_amount(major, minor, currency, as_json, "price")
    assert value is not None
    return value


# ---- bundle -----------------------------------------------------------------------------------------------

@click.group()
def bundle() -> None:
    """The bundle catalog, purchases and gifts."""


def _definition_json(d: Any) -> dict[str, Any]:
    a = d.allowances
    return {"code": d.code, "name": d.name, "type": d.kind.value, "data_octets": a.data_octets,
            "voice_seconds": a.voice_seconds, "sms": a.sms_count, "roaming_data_octets": a.roaming_data_octets,
            "validity_days": d.validity_days, "priority": d.priority, "price": d.price, "currency": d.currency,
            "rating_groups": list(d.rating_groups)}


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
@amount_options("price", what="Price (>= 0)")
@click.option("--currency", metavar="XXX", help="ISO 4217 code [charging.currency of the config].")
@click.option("--rating-groups", metavar="RG,RG", help="Serve only these rating groups (an app bundle) [any].")
@json_option
def bundle_create(config_path: str, code: str, name: str, kind: str, data_octets: int, voice_seconds: int, sms: int,
                  roaming_data_octets: int, validity_days: int, priority: int, price: str | None,
                  price_minor: int | None, currency: str | None, rating_groups: str | None, as_json: bool) -> None:
    """Add a bundle to the catalog (an existing code is refused: catalog entries are not changed)."""
    from ocs.charging.model import Allowances, BundleDefinition, BundleKind

    config = load_or_exit(config_path)
    price_of = _price(price, price_minor, currency or config.charging.currency, as_json)
    try:
        groups = tuple(int(x) for x in rating_groups.split(",")) if rating_groups else ()
    except ValueError:
        fail(f"--rating-groups: a comma-separated list of integers, got {rating_groups!r}", as_json=as_json)
    try:
        definition = BundleDefinition(code, name, BundleKind(kind),
                                      Allowances(data_octets, voice_seconds, sms, roaming_data_octets),
                                      validity_days, priority, price_of, currency or config.charging.currency, groups)
    except ValueError as e:
        fail(str(e), as_json=as_json)

    async def body(charging: Any) -> None:
        await charging.create_bundle(definition)

    call(config, as_json, body)
    emit({"ok": True, **_definition_json(definition)}, as_json,
         lambda: f"created bundle {code} ({name}): {money(price_of, definition.currency)}, {validity_days} days")


@bundle.command("list")
@config_option
@json_option
def bundle_list(config_path: str, as_json: bool) -> None:
    """The catalog, in drawing order (priority, then code)."""
    config = load_or_exit(config_path)

    async def body(charging: Any) -> list[Any]:
        return list(await charging.list_bundles())

    out = [_definition_json(d) for d in call(config, as_json, body)]
    header = ("code", "name", "type", "data_octets", "voice_seconds", "sms", "roaming_data_octets", "validity_days",
              "priority", "price", "currency")
    rows = [[format_major(b[k], b["currency"]) if k == "price" else b[k] for k in header] for b in out]
    emit(out, as_json, lambda: table(header, rows, "no bundles"))


@bundle.command("purchase")
@config_option
@account_options
@click.option("--bundle", "code", required=True, metavar="CODE", help="Catalog code of the bundle.")
@click.option("--ref", metavar="REF", help="Your reference (up to 128 printable characters): the same REF again "
                                           "buys nothing [a new one].")
@json_option
def bundle_purchase(config_path: str, account: str | None, imsi: str | None, msisdn: str | None, code: str,
                    ref: str | None, as_json: bool) -> None:
    """Buy a bundle with an account's balance (debit and activation together, or neither)."""
    who = parse_who(account, imsi, msisdn, as_json)
    reference = check_ref(ref, as_json) or "cli-" + uuid.uuid4().hex
    config = load_or_exit(config_path)

    async def body(charging: Any) -> tuple[str, Any, str]:
        target = await account_of(charging, who)
        result = await charging.purchase(target, code, reference)
        return target, result, (await charging.account(target)).currency

    target, result, currency = call(config, as_json, body)

    def text() -> str:
        if result.duplicate:
            return (f"duplicate: ref {reference} was already applied to {who} (bundle id {result.bundle_id}); "
                    f"nothing bought, balance {money(result.balance, currency)}")
        return (f"{who} bought {code} (bundle id {result.bundle_id}, ref {reference}): balance "
                f"{money(result.balance, currency)}")

    emit({"ok": True, "account": target, **who.as_json(), "bundle": code, "ref": reference,
          "entry_id": result.entry_id, "bundle_id": result.bundle_id, "balance": result.balance,
          "duplicate": result.duplicate}, as_json, text)


@bundle.command("gift")
@config_option
@account_options
@click.option("--from", "sender", metavar="MSISDN", hidden=True, help="Who pays (the same as --msisdn).")
@click.option("--to", "recipient", metavar="MSISDN", help="Who gets the bundle: a SIM's MSISDN (its account).")
@click.option("--to-account", "recipient_account", metavar="ID", help="Who gets the bundle: an account id.")
@click.option("--bundle", "code", required=True, metavar="CODE", help="Catalog code of the bundle.")
@click.option("--ref", metavar="GIFT_ID", help="Gift id (up to 128 printable characters): the same id again gives "
                                               "nothing more [a new one].")
@json_option
def bundle_gift(config_path: str, account: str | None, imsi: str | None, msisdn: str | None, sender: str | None,
                recipient: str | None, recipient_account: str | None, code: str, ref: str | None,
                as_json: bool) -> None:
    """Give a bundle: the payer's account (--account/--imsi/--msisdn) pays, the recipient's account (--to MSISDN
    or --to-account ID) gets the bundle."""
    from ocs.charging.model import check_account_id

    if sender is not None and msisdn is not None:
        fail("--from is --msisdn: give one of them", as_json=as_json)
    payer = msisdn if sender is None else check_msisdn_option(sender, "from", as_json)
    who = parse_who(account, imsi, payer, as_json)
    if (recipient is None) == (recipient_account is None):
        fail("give the recipient with exactly one of --to MSISDN or --to-account ID", as_json=as_json)
    if recipient_account is not None:
        try:
            to = Who(check_account_id(recipient_account), None, None)
        except ValueError as e:
            fail(f"--to-account: {e}", as_json=as_json)
    else:
        assert recipient is not None
        to = Who(None, None, check_msisdn_option(recipient, "to", as_json))
    gift_id = check_ref(ref, as_json) or "cli-" + uuid.uuid4().hex
    config = load_or_exit(config_path)

    async def body(charging: Any) -> tuple[str, str, Any, int, str]:
        payer = await account_of(charging, who)
        gets = await account_of(charging, to)
        result = await charging.gift(payer, gets, code, gift_id)
        view = await charging.account(payer)
        return payer, gets, result, view.balance, view.currency

    payer, gets, result, balance, currency = call(config, as_json, body)
    emit({"ok": True, "gift_id": result.gift_id, "bundle": code, "from": payer, "to": gets,
          "sender_entry": result.sender_entry, "recipient_entry": result.recipient_entry,
          "bundle_id": result.bundle_id, "sender_balance": balance}, as_json,
         lambda: f"gift {result.gift_id}: {who} gave {code} to {to} (bundle id {result.bundle_id}); "
                 f"sender balance {money(balance, currency)}")


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
@amount_options("price", what="Price per N units (>= 0)")
@click.option("--per", "unit_size", required=True, type=int, metavar="N",
              help="Block size: usage is rounded up to a multiple of N (> 0).")
@click.option("--roaming", is_flag=True,
              help="Set the roaming price (the home price must be set first); without it, the home price.")
@click.option("--currency", metavar="XXX", help="ISO 4217 code [charging.currency of the config].")
@json_option
def tariff_set(config_path: str, rating_group: int, unit: str, price: str | None, price_minor: int | None,
               unit_size: int, roaming: bool, currency: str | None, as_json: bool) -> None:
    """Set the home (or with --roaming, the roaming) price of a rating group.

    A tariff holds both prices for one unit and block size. The first home price also becomes the roaming
    price until --roaming sets another; setting the home price again keeps the roaming price, unless the unit
    or block size changes (the roaming price is then reset to the home price: set it again). --roaming must
    use the tariff's unit and block size."""
    from ocs.services.catalog import CatalogConflict, tariff_with_price

    config = load_or_exit(config_path)
    cur = currency or config.charging.currency
    price_of = _price(price, price_minor, cur, as_json)
    notes: list[str] = []

    async def body(charging: Any) -> Any:
        existing = next((t for t in await charging.list_tariffs() if t.rating_group == rating_group), None)
        try:
            new, said = tariff_with_price(existing, rating_group, unit, unit_size, price_of, cur, roaming=roaming)
        except CatalogConflict as e:
            hint = (f" (ocsd tariff set --rating-group {rating_group} --unit {unit} --price DECIMAL --per {unit_size})"
                    if existing is None else "")
            fail(f"{e}{hint}", as_json=as_json)
        notes.extend(said)
        await charging.set_tariff(new)
        return new

    new = call(config, as_json, body)
    for note in notes:
        click.echo(f"note: {note}", err=True)
    emit({"ok": True, **_tariff_json(new)}, as_json,
         lambda: f"rating group {new.rating_group}: home {money(new.price_home, new.currency)}, roaming "
                 f"{money(new.price_roaming, new.currency)} per {new.unit_size} {new.unit.value}")


@tariff.command("list")
@config_option
@json_option
def tariff_list(config_path: str, as_json: bool) -> None:
    """All tariffs, by rating group."""
    config = load_or_exit(config_path)

    async def body(charging: Any) -> list[Any]:
        return list(await charging.list_tariffs())

    out = [_tariff_json(t) for t in call(config, as_json, body)]
    header = ("rating_group", "unit", "unit_size", "price_home", "price_roaming", "currency")
    emit(out, as_json, lambda: table(header, [[format_major(t[k], t["currency"]) if k.startswith("price") else t[k]
                                               for k in header] for t in out], "no tariffs"))


GROUPS = (account, bundle, tariff, ledger)
