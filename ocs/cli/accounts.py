"""`ocsd account|ledger ...`: accounts (opening, top-ups, views) and the ledger (entries, rebuild of Redis).

Every rule about money lives in ChargingService (ocs/services/charging.py); these commands only parse input,
call it and print the answer. Whose money: exactly one of `--account ID`, `--imsi IMSI` or `--msisdn MSISDN`
(a SIM names the account it points at). A refused operation (ChargingError) changed nothing and ends with one
line on stderr (or {"ok": false, "error": ...} with --json) and exit status 2.
"""

from __future__ import annotations

from typing import Any

import click

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
from ocs.cli.money import Who, account_of, account_options, call, check_ref, iso_ms, parse_who, table

# ---- account ----------------------------------------------------------------------------------------------

@click.group()
def account() -> None:
    """Monetary accounts: opening, top-ups and balances. SIMs point at an account; several may share one."""


@account.command("create")
@config_option
@click.option("--account", "account_id", metavar="ID",
              help="The new account's id (letters, digits, '_', '.', '-'; up to 64) [generated].")
@click.option("--currency", metavar="XXX", help="ISO 4217 code [charging.currency of the config].")
@json_option
def account_create(config_path: str, account_id: str | None, currency: str | None, as_json: bool) -> None:
    """Open an account (balance 0) and print its id. SIMs join it with `subscriber add --account ID`."""
    from ocs.charging.currencies import check_currency
    from ocs.charging.model import check_account_id

    config = load_or_exit(config_path)
    cur = currency or config.charging.currency
    try:
        check_currency(cur)
        if account_id is not None:
            check_account_id(account_id)
    except ValueError as e:
        fail(str(e), as_json=as_json)

    async def body(charging: Any) -> str:
        return str(await charging.open_account(cur, account_id))

    created = call(config, as_json, body)
    emit({"ok": True, "account": created, "currency": cur}, as_json, lambda: created)


REF_HELP = ("Your reference (up to 128 printable characters): the same REF again changes nothing (safe to "
            "retry).")


def _money_command(kind: str, config_path: str, who: Who, major: str | None, minor: int | None, ref: str,
                   reason: str, as_json: bool) -> None:
    """topup, adjust or refund: the amount is read in the account's currency, the change is one ledger entry."""
    check_ref(ref, as_json)
    config = load_or_exit(config_path)

    async def body(charging: Any) -> tuple[str, str, int, Any]:
        target = await account_of(charging, who)
        currency = (await charging.account(target)).currency
        amount = resolve_amount(major, minor, currency, as_json)
        assert amount is not None
        if kind == "topup":
            return target, currency, amount, await charging.top_up(target, amount, ref)
        call_kind = charging.adjust if kind == "adjust" else charging.refund
        return target, currency, amount, await call_kind(target, amount, ref, reason)

    target, currency, amount, result = call(config, as_json, body)
    done = {"topup": "topped up", "adjust": "adjusted", "refund": "refunded"}[kind]

    def text() -> str:
        if result.duplicate:
            return (f"duplicate: ref {ref} was already applied to {who}; nothing changed, balance "
                    f"{money(result.balance, currency)}")
        return f"{done} {who} by {money(amount, currency)}: balance {money(result.balance, currency)}"

    out = {"ok": True, "account": target, **who.as_json(), "amount": amount, "currency": currency, "ref": ref,
           "entry_id": result.entry_id, "balance": result.balance, "duplicate": result.duplicate}
    if kind != "topup":
        out["reason"] = reason
    emit(out, as_json, text)


@account.command("topup")
@config_option
@account_options
@amount_options(what="Amount (> 0)")
@click.option("--ref", required=True, metavar="REF", help=REF_HELP)
@json_option
def account_topup(config_path: str, account: str | None, imsi: str | None, msisdn: str | None, amount: str | None,
                  amount_minor: int | None, ref: str, as_json: bool) -> None:
    """Credit airtime to an account's balance; idempotent by --ref."""
    _money_command("topup", config_path, parse_who(account, imsi, msisdn, as_json), amount, amount_minor, ref, "",
                   as_json)


@account.command("adjust")
@config_option
@account_options
@amount_options(what="Correction: a credit (> 0) or a debit (< 0, never below the available balance)")
@click.option("--ref", required=True, metavar="REF", help=REF_HELP)
@click.option("--reason", required=True, help="Why (kept in the ledger entry).")
@json_option
def account_adjust(config_path: str, account: str | None, imsi: str | None, msisdn: str | None, amount: str | None,
                   amount_minor: int | None, ref: str, reason: str, as_json: bool) -> None:
    """An operator's correction of a balance, in the ledger with its reason; idempotent by --ref."""
    _money_command("adjust", config_path, parse_who(account, imsi, msisdn, as_json), amount, amount_minor, ref,
                   reason, as_json)


@account.command("refund")
@config_option
@account_options
@amount_options(what="Amount given back (> 0)")
@click.option("--ref", required=True, metavar="REF", help=REF_HELP)
@click.option("--reason", required=True, help="Why (kept in the ledger entry).")
@json_option
def account_refund(config_path: str, account: str | None, imsi: str | None, msisdn: str | None, amount: str | None,
                   amount_minor: int | None, ref: str, reason: str, as_json: bool) -> None:
    """Give money back to an account, in the ledger with its reason; idempotent by --ref."""
    _money_command("refund", config_path, parse_who(account, imsi, msisdn, as_json), amount, amount_minor, ref,
                   reason, as_json)


@account.command("show")
@config_option
@account_options
@json_option
def account_show(config_path: str, account: str | None, imsi: str | None, msisdn: str | None, as_json: bool) -> None:
    """Show an account's balance, the part held by open sessions, bundles and the SIMs that use it."""
    from ocs.cli.subscribers import _bundle_json

    who = parse_who(account, imsi, msisdn, as_json)
    config = load_or_exit(config_path)

    async def body(charging: Any) -> dict[str, Any]:
        target = await account_of(charging, who)
        view = await charging.account(target)
        state = await charging.account_status(target)
        return {"account": view.account, "status": state["status"], "status_reason": state["reason"],
                "balance": view.balance, "held": view.held, "currency": view.currency,
                "bundles": [_bundle_json(b) for b in view.bundles],
                "sims": [{"imsi": sim.imsi, "msisdn": sim.msisdn} for sim in await charging.sims(target)]}

    out: dict[str, Any] = call(config, as_json, body)

    def text() -> str:
        status = out["status"] + (f" ({out['status_reason']})" if out["status_reason"] else "")
        lines = [f"account   {out['account']}", f"status    {status}",
                 f"balance   {money(out['balance'], out['currency'])}",
                 f"held      {money(out['held'], out['currency'])}"]
        lines += [f"bundle    {b['bundle']} (priority {b['priority']}, expires {b['expires_at']}): "
                  f"data {b['data_octets']} octets, voice {b['voice_seconds']} s, sms {b['sms']}, "
                  f"roaming data {b['roaming_data_octets']} octets" for b in out["bundles"]]
        lines += [f"sim       {sim['imsi']} ({sim['msisdn']})" for sim in out["sims"]]
        return "\n".join(lines)

    emit(out, as_json, text)


@account.command("block")
@config_option
@click.argument("account_id", metavar="ID")
@click.option("--reason", metavar="TEXT", help="Why (kept with the status and in the audit trail).")
@json_option
def account_block(config_path: str, account_id: str, reason: str | None, as_json: bool) -> None:
    """Block an account: Gy refuses its SIMs with 4010 (END_USER_SERVICE_DENIED) until `account unblock`."""
    config = load_or_exit(config_path)

    async def body(charging: Any) -> dict[str, Any]:
        return dict(await charging.block(account_id, reason))

    out = call(config, as_json, body)
    emit(out, as_json, lambda: f"{'blocked' if out['changed'] else 'already blocked'}: {account_id}")


@account.command("unblock")
@config_option
@click.argument("account_id", metavar="ID")
@json_option
def account_unblock(config_path: str, account_id: str, as_json: bool) -> None:
    """Unblock an account; its live Gy sessions that were refused get a RAR and ask for credit again."""
    config = load_or_exit(config_path)

    async def body(charging: Any) -> dict[str, Any]:
        return dict(await charging.unblock(account_id))

    out = call(config, as_json, body)
    emit(out, as_json, lambda: f"{'unblocked' if out['changed'] else 'not blocked'}: {account_id}")


# ---- ledger -----------------------------------------------------------------------------------------------

@click.group()
def ledger() -> None:
    """The ledger (every change of an account) and the rebuild of Redis from it."""


def _entry_json(e: Any) -> dict[str, Any]:
    return {"entry_id": e.entry_id, "seq": e.seq, "kind": e.kind, "amount": e.amount,
            "balance_after": e.balance_after, "ref": e.ref, "created_at": iso_ms(e.created_ms),
            "detail": dict(e.detail)}


@ledger.command("show")
@config_option
@account_options
@click.option("--limit", type=click.IntRange(min=1), default=100, show_default=True, metavar="N",
              help="The latest N entries.")
@json_option
def ledger_show(config_path: str, account: str | None, imsi: str | None, msisdn: str | None, limit: int,
                as_json: bool) -> None:
    """An account's latest ledger entries, newest first (including those not yet written to PostgreSQL)."""
    who = parse_who(account, imsi, msisdn, as_json)
    config = load_or_exit(config_path)

    async def body(charging: Any) -> tuple[list[Any], str]:
        target = await account_of(charging, who)
        return list(await charging.ledger(target, limit)), (await charging.account(target)).currency

    from ocs.charging.currencies import format_major

    entries, currency = call(config, as_json, body)
    out = [_entry_json(e) for e in entries]
    header = ("seq", "created_at", "kind", "amount", "balance_after", "ref")

    def row(e: dict[str, Any]) -> list[object]:  # amounts in major units, the currency in its own column
        return [format_major(e[k], currency) if k in ("amount", "balance_after") else e[k] for k in header] + [
            currency]

    emit(out, as_json, lambda: table((*header, "currency"), [row(e) for e in out], "no ledger entries"))


@ledger.command("rebuild-redis")
@config_option
@account_options
@json_option
def ledger_rebuild(config_path: str, account: str | None, imsi: str | None, msisdn: str | None,
                   as_json: bool) -> None:
    """Restore balances, bundles, references, pending gifts and the identity index (IMSI/MSISDN -> account) in
    Redis from PostgreSQL: one account (--account/--imsi/--msisdn) or every account. Open reservations are
    dropped. After an upgrade (`db migrate`) this also builds the identity index of the migrated accounts.

    Stop the daemon first: the ledger entries still waiting in Redis are written to PostgreSQL before the
    rebuild, but a change made while it runs would be overwritten."""
    who = None if account is None and imsi is None and msisdn is None else parse_who(account, imsi, msisdn, as_json)
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
        target = None if who is None else await _account_of_for_rebuild(charging, who)
        rebuilt = await charging.rebuild(target)
        return drained, rebuilt

    drained, rebuilt = call(config, as_json, body)
    emit({"ok": True, "drained": drained, "rebuilt": rebuilt}, as_json,
         lambda: f"wrote {drained} pending ledger entries to PostgreSQL; rebuilt {rebuilt} "
                 f"account{'' if rebuilt == 1 else 's'}")


async def _account_of_for_rebuild(charging: Any, who: Who) -> str:
    """As `_account_of`, but from PostgreSQL: the Redis identity index may be what is being rebuilt."""
    if who.account is not None:
        return who.account
    return str(await charging.account_of_sim_in_postgres(imsi=who.imsi, msisdn=who.msisdn))


GROUPS = (account, ledger)
