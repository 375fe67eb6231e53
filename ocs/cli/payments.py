"""`ocsd payments ...`: M-Pesa STK push, reconcile, list and show (issue 17). The CLI talks to Daraja and
PostgreSQL itself; the callback reaches the running daemon, which applies the payment."""

from __future__ import annotations

from typing import Any

import click

from ocs.cli.common import amount_options, config_option, emit, fail, json_option, load_or_exit, money, resolve_amount
from ocs.cli.money import call, table


def _service(config: Any, charging: Any) -> Any:
    from ocs.payments.daraja import DarajaClient
    from ocs.payments.service import PaymentService
    from ocs.payments.store import PaymentStore
    from ocs.services.hotspot import HotspotService

    daraja = DarajaClient(config.payments.mpesa) if config.payments.mpesa is not None else None
    return PaymentService(PaymentStore(charging.pool), charging, HotspotService(charging.store, charging.pool),
                          config.payments, currency=config.charging.currency,
                          voucher_length=config.radius.voucher_length, daraja=daraja)


def _line(p: dict[str, Any]) -> str:
    return (f"{p['id']}  {p['status']}  {money(p['amount'], p['currency'])}  {p['for']}  {p['phone']}  "
            f"{p['receipt'] or '-'}  {p['message']}")


@click.group()
def payments() -> None:
    """Mobile money: M-Pesa STK push, reconcile, list and show payments."""


@payments.command("stk")
@config_option
@click.option("--msisdn", required=True, help="The phone to prompt (2547XXXXXXXX, 07XXXXXXXX).")
@amount_options(required=False, what="Amount (default: the bundle's or package's price)")
@click.option("--for", "for_", required=True, metavar="topup|bundle:CODE|hotspot:CODE", help="What it buys.")
@click.option("--account", help="Whose top-up or bundle (default: the account of --msisdn).")
@click.option("--mac", help="The device a hotspot package is bound to.")
@json_option
def stk(config_path: str, msisdn: str, amount: str | None, amount_minor: int | None, for_: str,
        account: str | None, mac: str | None, as_json: bool) -> None:
    """Send an M-Pesa STK push; prints the pending payment (the money moves when the callback comes)."""
    from ocs.payments.service import PaymentRefused, Purchase
    from ocs.payments.store import payment_view

    config = load_or_exit(config_path, as_json=as_json)
    if config.payments.mpesa is None:
        fail("M-Pesa is not configured ([payments.mpesa])", as_json=as_json)
    minor = resolve_amount(amount, amount_minor, config.charging.currency, as_json, required=False)

    async def body(charging: Any) -> dict[str, Any]:
        service = _service(config, charging)
        try:
            p = await service.stk_push(phone=msisdn, purchase=Purchase.parse(for_), amount=minor,
                                       account=account, mac=mac or "", created_by="cli")
        except PaymentRefused as e:
            fail(str(e), 2 if e.status == 422 else 1, as_json=as_json)
        finally:
            await service.stop()
        return payment_view(p)

    out = call(config, as_json, body)
    emit({"ok": True, **out}, as_json, lambda: f"STK push sent: {_line(out)}")


@payments.command("reconcile")
@config_option
@json_option
def reconcile(config_path: str, as_json: bool) -> None:
    """Apply confirmed payments and resolve STK pushes whose callback never came (STK query)."""
    config = load_or_exit(config_path, as_json=as_json)

    async def body(charging: Any) -> int:
        service = _service(config, charging)
        try:
            return int(await service.reconcile())
        finally:
            await service.stop()

    changed = call(config, as_json, body)
    emit({"ok": True, "changed": changed}, as_json, lambda: f"reconciled: {changed} payment(s) changed")


@payments.command("list")
@config_option
@click.option("--status", type=click.Choice(["pending", "confirmed", "applied", "failed", "mismatch"]))
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--before", metavar="ID", help="Continue after this payment id (the last of the previous page).")
@json_option
def list_payments(config_path: str, status: str | None, limit: int, before: str | None, as_json: bool) -> None:
    """Payments, newest first."""
    from ocs.payments.store import PaymentStore, payment_view

    config = load_or_exit(config_path, as_json=as_json)

    async def body(charging: Any) -> list[dict[str, Any]]:
        return [payment_view(p) for p in await PaymentStore(charging.pool).recent(status=status, limit=limit,
                                                                                  before=before)]

    out = call(config, as_json, body)
    header = ("id", "status", "amount", "for", "phone", "receipt", "created_at")
    emit(out, as_json, lambda: table(header, [[p["id"], p["status"], money(p["amount"], p["currency"]), p["for"],
                                               p["phone"], p["receipt"] or "-", p["created_at"]] for p in out],
                                     "no payments"))


@payments.command("show")
@config_option
@click.argument("payment_id")
@json_option
def show(config_path: str, payment_id: str, as_json: bool) -> None:
    """One payment (by id, CheckoutRequestID or receipt)."""
    from ocs.payments.store import PaymentStore, payment_view

    config = load_or_exit(config_path, as_json=as_json)

    async def body(charging: Any) -> dict[str, Any] | None:
        store = PaymentStore(charging.pool)
        p = await store.get(payment_id) or await store.by_checkout(payment_id)
        if p is None:
            async with charging.pool.acquire() as conn:
                found = await conn.fetchval("SELECT id FROM payments WHERE receipt = $1 LIMIT 1", payment_id)
            p = await store.get(found) if found else None
        return payment_view(p) if p is not None else None

    out = call(config, as_json, body)
    if out is None:
        fail(f"no payment {payment_id}", as_json=as_json)
    emit(out, as_json, lambda: "\n".join(f"{k}: {v}" for k, v in out.items()))


GROUPS = [payments]
