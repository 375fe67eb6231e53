"""`ocsd subscriber list` (paged) and `ocsd subscriber set IMSI|MSISDN ...` (each change audited).

    ocsd subscriber list [--status active|blocked] [--limit N] [--after IMSI] [--json]
    ocsd subscriber set IMSI|MSISDN [--msisdn M] [--status active|blocked] [--apn NAME ...]
                        [--ambr-ul BPS] [--ambr-dl BPS] [--k HEX --opc HEX | --k HEX --op HEX] [--plan CODE]

Paging is by IMSI: a page ends with `next: --after IMSI` (JSON: "next"), the argument that gives the next one.
"""

from __future__ import annotations

from typing import Any

import click

from ocs.cli.common import config_option, emit, fail, json_option, load_or_exit, run, with_backends
from ocs.cli.money import table
from ocs.cli.subscribers import _services, subscriber
from ocs.provisioning import InvalidSubscriber, SubscriberExists, SubscriberNotFound

STATUS_CHOICES = ("active", "blocked")
MAX_AMBR = 2**32 - 1  # TS 29.272 §7.3.41: Max-Requested-Bandwidth-UL/DL are Unsigned32 bits/s


@subscriber.command("list")
@config_option
@click.option("--status", type=click.Choice(STATUS_CHOICES), help="Only subscribers in this status.")
@click.option("--limit", type=click.IntRange(1, 10000), default=100, show_default=True, help="Page size.")
@click.option("--after", metavar="IMSI", help="Start after this IMSI (the previous page's `next`).")
@json_option
def subscriber_list(config_path: str, status: str | None, limit: int, after: str | None, as_json: bool) -> None:
    """Subscribers by IMSI, a page at a time."""
    from ocs.services.subscriber_admin import list_subscribers

    config = load_or_exit(config_path)

    async def body(backends: Any) -> list[dict[str, Any]]:
        return await list_subscribers(backends.pool, status=status, after=after, limit=limit)

    rows = run(lambda: with_backends(config, body))
    following = rows[-1]["imsi"] if len(rows) == limit else None
    header = ("imsi", "msisdn", "status", "account", "apns")

    def text() -> str:
        shown = table(header, [[r["imsi"], r["msisdn"], r["status"], r["account"] or "-", ",".join(r["apns"])]
                               for r in rows], "no subscribers")
        return shown + (f"\nnext: --after {following}" if following else "")

    emit({"subscribers": rows, "next": following}, as_json, text)


@subscriber.command("set")
@config_option
@click.argument("who", metavar="IMSI|MSISDN")
@click.option("--msisdn", help="A new MSISDN (E.164 digits).")
@click.option("--status", type=click.Choice(STATUS_CHOICES), help="active, or blocked (attach refused).")
@click.option("--apn", "apns", multiple=True, metavar="NAME", help="The APNs, replacing the list; repeat for more.")
@click.option("--ambr-ul", type=click.IntRange(1, MAX_AMBR), metavar="BPS", help="Subscribed AMBR uplink, bits/s.")
@click.option("--ambr-dl", type=click.IntRange(1, MAX_AMBR), metavar="BPS", help="Subscribed AMBR downlink, bits/s.")
@click.option("--k", "k", metavar="HEX", help="A new K (16 octets); with --opc or --op (a new SIM).")
@click.option("--opc", metavar="HEX", help="A new OPc (16 octets).")
@click.option("--op", metavar="HEX", help="A new OP (16 octets; OPc is derived from it and K).")
@click.option("--plan", metavar="CODE", help="The Gx plan (`ocsd plan create`).")
@json_option
def subscriber_set(config_path: str, who: str, msisdn: str | None, status: str | None, apns: tuple[str, ...],
                   ambr_ul: int | None, ambr_dl: int | None, k: str | None, opc: str | None, op: str | None,
                   plan: str | None, as_json: bool) -> None:
    """Change a subscriber; each change is recorded in the audit table (K and OPc as "changed", never their
    values). Prints what changed."""
    from ocs.provisioning import new_subscriber
    from ocs.services.subscriber_admin import Changes, UnknownPlan, update_subscriber

    config = load_or_exit(config_path)
    keys: tuple[bytes, bytes] | None = None
    try:
        # checked by the same rules as `subscriber add` (a placeholder IMSI/MSISDN where none changes)
        if k is not None or opc is not None or op is not None:
            if k is None:
                fail("--opc/--op change the keys with --k: give --k too", as_json=as_json)
            s = new_subscriber(imsi_="001010000000000", msisdn_=msisdn or "10000", k=k, opc=opc, op=op, apns=apns)
            keys = (s.k, s.opc)
        elif msisdn is not None or apns:
            new_subscriber(imsi_="001010000000000", msisdn_=msisdn or "10000", k="00" * 16, opc="00" * 16,
                           apns=apns)
    except InvalidSubscriber as e:
        fail(str(e), as_json=as_json)
    changes = Changes(msisdn=msisdn, status=status, apns=tuple(dict.fromkeys(apns)) if apns else None,
                      ambr_ul=ambr_ul, ambr_dl=ambr_dl, k=keys[0] if keys else None, opc=keys[1] if keys else None,
                      plan=plan)

    async def body(backends: Any) -> dict[str, Any]:
        _, charging = _services(config, backends)
        try:
            return await update_subscriber(backends.pool, backends.sealer, charging, who, changes)
        except SubscriberNotFound:
            fail(f"no subscriber {who}", as_json=as_json)
        except (SubscriberExists, UnknownPlan) as e:
            fail(str(e), as_json=as_json)

    changed = run(lambda: with_backends(config, body))
    shown = {("k" if f == "k_enc" else "opc" if f == "opc_enc" else f): v for f, v in changed.items()}

    def text() -> str:
        if not shown:
            return f"{who}: nothing to change"
        return "\n".join(f"{who}: {f} " + (v if isinstance(v, str) else f"{v['from']} -> {v['to']}")
                         for f, v in shown.items())

    emit({"ok": True, "subscriber": who, "changed": shown}, as_json, text)


__all__ = ["subscriber_list", "subscriber_set"]
