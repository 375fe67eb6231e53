"""Applying a confirmed payment: the money or the voucher, exactly once.

Every step is idempotent so that a retry after a failure (Redis down, a crash between two steps) finishes the
job without doing any part twice: the money moves through ChargingService with the payment's `ref` as the
idempotency reference (a repeated reference credits nothing), a hotspot voucher is looked up by its batch name
"pay:<payment id>" before one is created. The ledger entry of the credit carries the receipt.
"""

from __future__ import annotations

from dataclasses import dataclass

from ocs.charging.errors import ChargingError
from ocs.payments.store import Payment
from ocs.services.charging import ChargingService
from ocs.services.hotspot import HotspotService


@dataclass(frozen=True, slots=True)
class Applied:
    account: str
    voucher: str | None = None
    note: str = ""  # e.g. why a bundle could not be bought (the money then stays on the balance)


async def apply_payment(p: Payment, charging: ChargingService, hotspot: HotspotService | None, *,
                        currency: str, voucher_length: int) -> Applied:
    detail = {"receipt": p.receipt or "", "provider": p.provider, "payment": p.id}
    if p.purpose == "hotspot":
        if hotspot is None:
            raise RuntimeError("hotspot packages need PostgreSQL and Redis")
        batch = f"pay:{p.id}"
        found = await hotspot.vouchers_of_batch(batch)
        if found:
            code, account = found[0]
        else:
            code = (await hotspot.generate_vouchers(charging, p.item, 1, length=voucher_length, currency=currency,
                                                    bind_mac=True, mac=p.mac, batch=batch))[0]
            code, account = (await hotspot.vouchers_of_batch(batch))[0]
        # The voucher's account records the payment and the package bought with it (net zero).
        await charging.top_up(account, p.amount, p.ref, detail=detail)
        await charging.adjust(account, -p.amount, f"{p.ref}:package", f"hotspot package {p.item}")
        return Applied(account, code)
    if p.account_id is None:
        raise RuntimeError(f"payment {p.id} names no account")
    await charging.top_up(p.account_id, p.amount, p.ref, detail=detail)
    if p.purpose == "bundle":
        try:
            await charging.purchase(p.account_id, p.item, f"{p.ref}:bundle")
        except ChargingError as e:  # e.g. the price changed: the money stays on the balance, an operator sees why
            return Applied(p.account_id, None, f"bundle {p.item} not bought: {e}")
    return Applied(p.account_id)


__all__ = ["Applied", "apply_payment"]
