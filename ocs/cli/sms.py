"""`ocsd sms ...` (issue 18): SMS tariffs, sender ids, dispatches, message records, accounts' SMS settings and
a charge by hand; the same SmsService as the admin API and the Jasmin consumers. Prices in minor units.

    ocsd sms tariff set --plan P (--prefix 254 | --mccmnc 63902) --price MINOR [--from-count N] [--currency C]
    ocsd sms tariff list [--plan P]
    ocsd sms account set --account A [--plan P] [--refund-on-failure/--no-refund-on-failure] [--rate-limit N]
    ocsd sms sender add|approve|reject --account A --sender ID;  ocsd sms sender list [--account A] [--status S]
    ocsd sms dispatch create --account A [--name N] [--id ID];  ocsd sms dispatch show ID
    ocsd sms message show ID
    ocsd sms charge --account A --message-id M --to NUMBER [--parts N] [--sender ID] [--dispatch ID]
Every command takes -c FILE and --json.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import click

from ocs.cli.common import config_option, emit, fail, json_option, load_or_exit, money, run, with_backends
from ocs.cli.money import table
from ocs.config import Config


def _call(config: Config, as_json: bool, action: Callable[[Any], Awaitable[Any]]) -> Any:
    """Run `action(service)` with the SMS service over the configured stores; refusals end the command."""
    from ocs.charging.errors import ChargingError
    from ocs.sms.service import SmsService

    async def body(backends: Any) -> Any:
        service = SmsService(backends.redis, backends.pool, config.sms)
        await service.load()
        try:
            return await action(service)
        except (ChargingError, ValueError) as e:
            fail(str(e), as_json=as_json)

    return run(lambda: with_backends(config, body))


@click.group()
def sms() -> None:
    """SMS billing with the Jasmin gateway: tariffs, sender ids, dispatches, messages."""


@sms.group()
def tariff() -> None:
    """SMS prices by plan and destination prefix (or MCC/MNC), with volume tiers."""


@tariff.command("set")
@config_option
@click.option("--plan", required=True, help="Tariff plan (accounts use [sms] default_plan unless set).")
@click.option("--prefix", help="Destination prefix, E.164 digits (longest match wins: 254, 25471).")
@click.option("--mccmnc", help="Destination network MCC+MNC (wins over prefixes when the charge names it).")
@click.option("--price", required=True, type=click.IntRange(0, 2**53 - 1), metavar="MINOR",
              help="Price of one part, minor units.")
@click.option("--from-count", type=click.IntRange(0, 2**53 - 1), default=0, show_default=True, metavar="N",
              help="Volume tier: the price applies to parts past N sent this month by the account.")
@click.option("--currency", help="ISO 4217 code (default [charging] currency).")
@json_option
def tariff_set(config_path: str, plan: str, prefix: str | None, mccmnc: str | None, price: int, from_count: int,
               currency: str | None, as_json: bool) -> None:
    """Set one price (a new tier of the same prefix adds to it)."""
    from ocs.sms.pricing import MCCMNC, PREFIX, SmsTariff

    config = load_or_exit(config_path, as_json=as_json)
    if (prefix is None) == (mccmnc is None):
        fail("give --prefix or --mccmnc (one of them)", as_json=as_json)
    kind, match = (PREFIX, prefix) if prefix is not None else (MCCMNC, mccmnc)
    t = SmsTariff(plan, kind, str(match), from_count, price, currency or config.charging.currency)
    _call(config, as_json, lambda s: s.set_tariff(t))
    emit({"ok": True, "plan": plan, "match_kind": kind, "match": match, "from_count": from_count, "price": price,
          "currency": t.currency}, as_json,
         lambda: f"plan {plan}: {kind} {match} from {from_count} parts costs {money(price, t.currency)} a part")


@tariff.command("list")
@config_option
@click.option("--plan", help="Only this plan.")
@json_option
def tariff_list(config_path: str, plan: str | None, as_json: bool) -> None:
    """Every SMS price."""
    config = load_or_exit(config_path, as_json=as_json)
    rows = _call(config, as_json, lambda s: s.list_tariffs(plan))
    emit([{"plan": t.plan, "match_kind": t.match_kind, "match": t.match, "from_count": t.from_count,
           "price": t.price, "currency": t.currency} for t in rows], as_json,
         lambda: table(("PLAN", "KIND", "MATCH", "FROM", "PRICE"),
                       [(t.plan, t.match_kind, t.match, t.from_count, money(t.price, t.currency)) for t in rows],
                       "no SMS tariffs"))


@sms.group("account")
def sms_account() -> None:
    """An account's SMS plan, refund policy and rate limit."""


@sms_account.command("set")
@config_option
@click.option("--account", required=True)
@click.option("--plan", help="Tariff plan.")
@click.option("--refund-on-failure/--no-refund-on-failure", default=None,
              help="Refund messages whose receipt says UNDELIV or REJECTD.")
@click.option("--rate-limit", type=click.IntRange(0, 100_000), metavar="N",
              help="Messages per second (token bucket; 0: no limit).")
@json_option
def account_set(config_path: str, account: str, plan: str | None, refund_on_failure: bool | None,
                rate_limit: int | None, as_json: bool) -> None:
    config = load_or_exit(config_path, as_json=as_json)
    out = _call(config, as_json, lambda s: s.set_account(account, plan=plan, refund_on_failure=refund_on_failure,
                                                         rate_limit=rate_limit))
    emit({"ok": True, **out}, as_json, lambda: f"{account}: plan {out['plan']}, refund on failure "
         f"{'yes' if out['refund_on_failure'] else 'no'}, rate limit {out['rate_limit'] or 'default'}")


@sms.group()
def sender() -> None:
    """Sender ids (alphanumeric, at most 11 characters): usable once approved."""


def _sender_command(name: str, status: str | None) -> None:
    @sender.command(name)
    @config_option
    @click.option("--account", required=True)
    @click.option("--sender", "sender_id", required=True, help="The sender id (TS 23.040 alphanumeric address).")
    @json_option
    def command(config_path: str, account: str, sender_id: str, as_json: bool) -> None:
        config = load_or_exit(config_path, as_json=as_json)
        if status is None:
            out = _call(config, as_json, lambda s: s.add_sender(account, sender_id))
        else:
            out = _call(config, as_json, lambda s: s.decide_sender(account, sender_id, status))
        emit({"ok": True, **out}, as_json, lambda: f"sender {sender_id} of {account}: {out['status']}")

    command.__doc__ = {"add": "Register a sender id (pending approval).", "approve": "Approve a sender id.",
                       "reject": "Reject a sender id."}[name]


for _name, _status in (("add", None), ("approve", "approved"), ("reject", "rejected")):
    _sender_command(_name, _status)


@sender.command("list")
@config_option
@click.option("--account")
@click.option("--status", type=click.Choice(["pending", "approved", "rejected"]))
@json_option
def sender_list(config_path: str, account: str | None, status: str | None, as_json: bool) -> None:
    config = load_or_exit(config_path, as_json=as_json)
    rows = _call(config, as_json, lambda s: s.list_senders(account, status))
    emit(rows, as_json, lambda: table(("ACCOUNT", "SENDER", "STATUS"),
                                      [(r["account"], r["sender_id"], r["status"]) for r in rows], "no sender ids"))


@sms.group()
def dispatch() -> None:
    """Dispatches: the messages of one campaign with live counters."""


@dispatch.command("create")
@config_option
@click.option("--account", required=True)
@click.option("--name", default="", help="Campaign name.")
@click.option("--id", "dispatch_id", help="Dispatch id (default: generated).")
@json_option
def dispatch_create(config_path: str, account: str, name: str, dispatch_id: str | None, as_json: bool) -> None:
    config = load_or_exit(config_path, as_json=as_json)
    out = _call(config, as_json, lambda s: s.create_dispatch(account, name, dispatch_id))
    emit({"ok": True, **out}, as_json, lambda: out["dispatch_id"])


def _dispatch_text(d: dict[str, Any]) -> str:
    return "\n".join(f"{k + ':':11} {d[k]}" for k in ("dispatch_id", "account", "name", "created_at", "sent", "parts",
                                                       "pending", "delivered", "failed", "cost"))


@dispatch.command("show")
@config_option
@click.argument("dispatch_id")
@json_option
def dispatch_show(config_path: str, dispatch_id: str, as_json: bool) -> None:
    """Counters: sent, parts, pending, delivered, failed, cost (minor units, net of refunds)."""
    config = load_or_exit(config_path, as_json=as_json)
    out = _call(config, as_json, lambda s: s.dispatch(dispatch_id))
    emit(out, as_json, lambda: _dispatch_text(out))


@sms.group()
def message() -> None:
    """Message records."""


@message.command("show")
@config_option
@click.argument("message_id")
@json_option
def message_show(config_path: str, message_id: str, as_json: bool) -> None:
    """Account, destination, parts, price, sender id, submit and delivery state of one message."""
    config = load_or_exit(config_path, as_json=as_json)
    out = _call(config, as_json, lambda s: s.message(message_id))
    emit(out, as_json, lambda: "\n".join(f"{k + ':':14} {v}" for k, v in sorted(out.items())))


@sms.command("charge")
@config_option
@click.option("--account", required=True)
@click.option("--message-id", required=True)
@click.option("--to", "destination", required=True, help="Destination number (E.164).")
@click.option("--parts", type=click.IntRange(1, 255), default=1, show_default=True)
@click.option("--sender", "sender_id", help="Approved sender id.")
@click.option("--dispatch", "dispatch_id", help="Dispatch id.")
@json_option
def charge(config_path: str, account: str, message_id: str, destination: str, parts: int, sender_id: str | None,
           dispatch_id: str | None, as_json: bool) -> None:
    """Charge one message as the sending side would (exactly once per message id)."""
    from ocs.sms.service import ChargeRequest

    config = load_or_exit(config_path, as_json=as_json)
    r = _call(config, as_json, lambda s: s.charge(ChargeRequest(account, message_id, destination, parts, sender_id,
                                                                dispatch_id)))
    emit({"ok": True, **r.as_dict()}, as_json,
         lambda: f"{message_id}: {r.price} (minor units) charged to {account}, balance {r.balance}"
         + (" (already charged)" if r.duplicate else ""))


GROUPS = (sms,)

__all__ = ["GROUPS", "sms"]
