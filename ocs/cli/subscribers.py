"""`ocsd db migrate`, `ocsd keys generate` and `ocsd subscriber add|show|import|delete`."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from ocs.cli.common import config_option, emit, fail, json_option, load_or_exit, run, with_backends
from ocs.provisioning import (
    BadRow,
    InvalidSubscriber,
    NewSubscriber,
    SubscriberExists,
    SubscriberNotFound,
    new_subscriber,
    read_csv,
)


def _services(config: Any, backends: Any) -> tuple[Any, Any]:
    from ocs.services.charging import ChargingService
    from ocs.services.subscribers import SubscriberService

    charging = ChargingService(backends.redis, backends.pool)
    return SubscriberService(backends.pool, backends.sealer, charging, currency=config.charging.currency,
                             ind_bits=config.auc.ind_bits), charging


# ---- db ---------------------------------------------------------------------------------------------------

@click.group()
def db() -> None:
    """The PostgreSQL schema."""


@db.command("migrate")
@config_option
@json_option
def db_migrate(config_path: str, as_json: bool) -> None:
    """Apply the schema migrations that are missing (safe to run again, and from several hosts at once)."""
    config = load_or_exit(config_path)

    async def main() -> list[str]:
        import asyncpg

        from ocs.store.migrations import MigrationError, migrate

        try:
            conn = await asyncpg.connect(config.postgres.dsn)
        except (OSError, asyncpg.PostgresError) as e:
            fail(f"cannot reach PostgreSQL: {e}", 1, as_json=as_json)
        try:
            return [f"{m.version:03d}_{m.name}" for m in await migrate(conn)]
        except MigrationError as e:
            fail(str(e), as_json=as_json)
        finally:
            await conn.close()

    applied = run(main)
    emit({"ok": True, "applied": applied}, as_json,
         lambda: "\n".join(f"applied {name}" for name in applied) or "schema is up to date")


# ---- keys -------------------------------------------------------------------------------------------------

@click.group()
def keys() -> None:
    """The key file that seals K and OPc at rest."""


@keys.command("generate")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
def keys_generate(path: Path) -> None:
    """Write a new random AES-256 key to PATH (mode 0600); refuses to overwrite a file."""
    from ocs.sealing import generate_key_file

    try:
        generate_key_file(path)
    except FileExistsError:
        fail(f"{path} exists; a new key would make the sealed K and OPc unreadable")
    except OSError as e:
        fail(f"cannot write {path}: {e.strerror}")
    click.echo(f"wrote {path}; name it in [keys] file = \"{path}\" and keep a copy offline")


# ---- subscriber -------------------------------------------------------------------------------------------

@click.group()
def subscriber() -> None:
    """Subscribers: identity, keys (sealed at rest), APNs."""


@subscriber.command("add")
@config_option
@click.option("--imsi", required=True, help="15 digits.")
@click.option("--msisdn", required=True, help="E.164 digits, without '+'.")
@click.option("--k", "k", required=True, metavar="HEX", help="K, 16 octets.")
@click.option("--opc", metavar="HEX", help="OPc, 16 octets.")
@click.option("--op", metavar="HEX", help="OP, 16 octets (OPc is derived from it and K).")
@click.option("--amf", metavar="HEX", help="AMF, 2 octets [8000].")
@click.option("--sqn", metavar="HEX", help="The last SQN the USIM accepted (6 octets) [0].")
@click.option("--apn", "apns", multiple=True, metavar="NAME", help="An APN; repeat for more [internet].")
@click.option("--account", "account", metavar="ID",
              help="An existing account the SIM joins (several SIMs may share one) [a new account].")
@json_option
def subscriber_add(config_path: str, imsi: str, msisdn: str, k: str, opc: str | None, op: str | None,
                   amf: str | None, sqn: str | None, apns: tuple[str, ...], account: str | None,
                   as_json: bool) -> None:
    """Provision one subscriber and open its account (or point it at an existing one with --account)."""
    from ocs.charging.errors import UnknownSubscriber
    from ocs.charging.model import check_account_id

    try:
        s = new_subscriber(imsi_=imsi, msisdn_=msisdn, k=k, opc=opc, op=op, amf=amf, sqn=sqn, apns=apns)
        if account is not None:
            check_account_id(account)
    except InvalidSubscriber as e:
        fail(f"--{e}", as_json=as_json)
    except ValueError as e:
        fail(f"--account: {e}", as_json=as_json)
    config = load_or_exit(config_path)

    async def body(backends: Any) -> str:
        subscribers, _ = _services(config, backends)
        try:
            return str(await subscribers.add(s, account))
        except (SubscriberExists, UnknownSubscriber) as e:
            fail(str(e), as_json=as_json)

    joined = run(lambda: with_backends(config, body))
    emit({"ok": True, "imsi": s.imsi, "msisdn": s.msisdn, "account": joined}, as_json,
         lambda: f"added {s.imsi} ({s.msisdn})")


def _bundle_json(b: Any) -> dict[str, Any]:
    from datetime import UTC, datetime

    r = b.remaining
    return {"bundle": b.code, "priority": b.priority,
            "expires_at": datetime.fromtimestamp(b.expires_at, UTC).isoformat().replace("+00:00", "Z"),
            "data_octets": r.data_octets, "voice_seconds": r.voice_seconds, "sms": r.sms_count,
            "roaming_data_octets": r.roaming_data_octets}


@subscriber.command("show")
@config_option
@click.argument("imsi")
@json_option
def subscriber_show(config_path: str, imsi: str, as_json: bool) -> None:
    """Show a subscriber (by IMSI or MSISDN), its balance and bundles. K and OPc are never shown."""
    config = load_or_exit(config_path)

    async def body(backends: Any) -> dict[str, Any]:
        from ocs.charging.errors import UnknownSubscriber

        subscribers, charging = _services(config, backends)
        try:
            view = await subscribers.show(imsi)
        except SubscriberNotFound:
            fail(f"no subscriber {imsi}", as_json=as_json)
        out = view.as_dict()
        try:
            if view.account is None:
                raise UnknownSubscriber(view.imsi)
            account = await charging.account(view.account)
        except UnknownSubscriber:
            out.update(balance=0, currency=config.charging.currency, held=0, bundles=[])
        else:
            out.update(balance=account.balance, currency=account.currency, held=account.held,
                       bundles=[_bundle_json(b) for b in account.bundles])
        return out

    out = run(lambda: with_backends(config, body))

    def text() -> str:
        lines = [f"{k:13} {', '.join(v) if isinstance(v, list) and k == 'apns' else v}"
                 for k, v in out.items() if k != "bundles"]
        for b in out["bundles"]:
            lines.append(f"bundle        {b['bundle']} (priority {b['priority']}, expires {b['expires_at']}): "
                         f"data {b['data_octets']} octets, voice {b['voice_seconds']} s, sms {b['sms']}, "
                         f"roaming data {b['roaming_data_octets']} octets")
        return "\n".join(lines)

    emit(out, as_json, text)


@subscriber.command("import")
@config_option
@click.argument("csv_file", metavar="FILE.csv", type=click.File("r", encoding="utf-8-sig"))
@click.option("--on-conflict", type=click.Choice(("skip", "update", "fail")), default="fail", show_default=True,
              help="A row whose IMSI or MSISDN is provisioned: skip it, update the subscriber (audited), or refuse "
                   "it (reported, exit 2).")
@json_option
def subscriber_import(config_path: str, csv_file: Any, on_conflict: str, as_json: bool) -> None:
    """Provision subscribers from a CSV file with a header line:

    imsi,msisdn,k,opc,op,amf,sqn,apns,status (opc or op per row; apns separated by ';'; empty = default).
    Good rows are imported; each bad row is reported with its line number, and the exit status is then 2.
    A progress bar is shown on a terminal."""
    config = load_or_exit(config_path)
    try:
        parsed = list(read_csv(csv_file))
    except InvalidSubscriber as e:
        fail(str(e), as_json=as_json)
    good: list[tuple[int, NewSubscriber]] = [(line, s) for line, s in parsed if isinstance(s, NewSubscriber)]
    refused = {line: r.error for line, r in parsed if isinstance(r, BadRow)}

    skipped: list[int] = []
    updated: list[int] = []

    async def body(backends: Any) -> dict[int, str]:
        subscribers, charging = _services(config, backends)
        out: dict[int, str] = {}
        with click.progressbar(length=len(good), label="importing", file=sys.stderr,
                               hidden=as_json or not sys.stderr.isatty()) as bar:
            for start in range(0, len(good), 100):
                chunk = good[start:start + 100]
                conflicts = await subscribers.add_many(chunk)
                if on_conflict == "skip":
                    skipped.extend(conflicts)
                elif on_conflict == "update":
                    conflicts = await _update_conflicts(backends, charging, dict(chunk), conflicts, updated)
                    out.update(conflicts)
                else:
                    out.update(conflicts)
                bar.update(len(chunk))
        return out

    bad_rows = len(refused)
    refused.update(run(lambda: with_backends(config, body)))
    imported = len(good) - (len(refused) - bad_rows) - len(skipped) - len(updated)
    report = [{"line": line, "error": refused[line]} for line in sorted(refused)]
    emit({"ok": not refused, "imported": imported, "updated": len(updated), "skipped": len(skipped),
          "refused": report}, as_json,
         lambda: "\n".join([*(f"line {r['line']}: {r['error']}" for r in report),
                            f"imported {imported}, updated {len(updated)}, skipped {len(skipped)}, "
                            f"refused {len(report)}"]))
    if refused:
        sys.exit(2)


async def _update_conflicts(backends: Any, charging: Any, rows: dict[int, NewSubscriber], conflicts: dict[int, str],
                            updated: list[int]) -> dict[int, str]:
    """`--on-conflict update`: each conflicting row updates the subscriber of its IMSI (audited as
    subscriber.import); a row whose MSISDN belongs to another IMSI stays refused."""
    from ocs.services.subscriber_admin import Changes, update_subscriber

    still: dict[int, str] = {}
    for line, error in conflicts.items():
        s = rows[line]
        try:
            await update_subscriber(backends.pool, backends.sealer, charging, s.imsi, Changes(
                msisdn=s.msisdn, status=s.status, apns=s.apns, k=s.k, opc=s.opc), action="subscriber.import")
        except (SubscriberNotFound, SubscriberExists):
            still[line] = error
        else:
            updated.append(line)
    return still


@subscriber.command("delete")
@config_option
@click.argument("imsi")
@click.option("--force", is_flag=True, help="Delete even if the account still holds money or bundles.")
@json_option
def subscriber_delete(config_path: str, imsi: str, force: bool, as_json: bool) -> None:
    """Delete a subscriber (its ledger stays in PostgreSQL). With --force, money left on the account of its last
    SIM is closed by an `adjust` ledger entry (ref close:IMSI), never dropped silently."""
    config = load_or_exit(config_path)

    async def body(backends: Any) -> None:
        subscribers, _ = _services(config, backends)
        try:
            await subscribers.delete(imsi, force=force)
        except SubscriberNotFound:
            fail(f"no subscriber {imsi}", as_json=as_json)
        except SubscriberExists as e:
            fail(str(e), as_json=as_json)

    run(lambda: with_backends(config, body))
    emit({"ok": True, "imsi": imsi}, as_json, lambda: f"deleted {imsi}")


GROUPS = (db, keys, subscriber)
