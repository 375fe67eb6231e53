"""Money exactly once whatever arrives: many STK payments, each getting a random mix of callbacks (paid, paid
again, cancelled, wrong amount) in a random global order, sometimes concurrently; the first callback decides
each payment, later ones change nothing, and the account's balance is the sum of the payments applied."""

from __future__ import annotations

import asyncio
import random
from collections.abc import Awaitable, Callable
from decimal import Decimal

import asyncpg
import pytest

from ocs.config.payments import PaymentsConfig
from ocs.payments import mpesa
from ocs.payments.service import PaymentService
from ocs.payments.store import PaymentStore
from ocs.services.charging import ChargingService

pytestmark = [pytest.mark.asyncio, pytest.mark.integration]
NewAccount = Callable[..., Awaitable[str]]
PHONE = "254700000009"


def callback(checkout: str, kind: str, amount: int, receipt: str) -> mpesa.StkResult:
    if kind == "cancel":
        return mpesa.StkResult("m", checkout, "1032", "Request cancelled by user")
    paid = Decimal(amount // 100 - (1 if kind == "wrong" else 0))
    return mpesa.StkResult("m", checkout, "0", "ok", paid, receipt, "20261202120000", PHONE)


@pytest.mark.parametrize("seed", [1, 2, 3])
async def test_random_callback_storms_credit_each_payment_at_most_once(pg_pool: asyncpg.Pool,
                                                                       service: ChargingService,
                                                                       new_account: NewAccount, seed: int):
    rnd = random.Random(seed)
    account = await new_account(currency="KES")
    store = PaymentStore(pg_pool)
    payments = PaymentService(store, service, None, PaymentsConfig(), currency="KES")
    events: list[tuple[str, str, int, str]] = []
    rows = []
    for i in range(20):
        amount = rnd.randint(1, 50) * 100
        p = await store.create(provider="mpesa-stk", network="mpesa", ref=f"mpesa-stk:{seed}-{i}-{account}",
                               checkout_request_id=f"ws_CO_{seed}_{i}_{account}", amount=amount, currency="KES",
                               phone=PHONE, purpose="topup", account_id=account, status="pending")
        rows.append(p)
        receipt = f"R{seed}{i:03d}{account[-6:]}".upper()
        for _ in range(rnd.randint(1, 3)):
            events.append((p.id, rnd.choice(["paid", "paid", "cancel", "wrong"]), amount, receipt))
    rnd.shuffle(events)
    first: dict[str, str] = {}
    for payment_id, kind, _amount, _receipt in events:
        first.setdefault(payment_id, kind)
    by_id = {p.id: p for p in rows}

    async def deliver(batch: list[tuple[str, str, int, str]]) -> None:
        for payment_id, kind, amount, receipt in batch:
            outcome, _ = await payments.handle_stk(callback(by_id[payment_id].checkout_request_id or "", kind, amount,
                                                            receipt))
            if outcome == "confirmed":
                await payments.apply(payment_id)

    # the first callback of every payment alone, then every later one from four concurrent senders
    first_index = {pid: next(i for i, e in enumerate(events) if e[0] == pid) for pid in by_id}
    await deliver([events[i] for i in first_index.values()])
    rest = [e for i, e in enumerate(events) if i not in set(first_index.values())]
    assert len(rest) == len(events) - len(rows)
    await asyncio.gather(*(deliver(rest[k::4]) for k in range(4)))
    want = {"paid": "applied", "cancel": "failed", "wrong": "mismatch"}
    credited = 0
    for p in rows:
        after = await store.get(p.id)
        assert after is not None and after.status == want[first[p.id]], (first[p.id], after)
        credited += p.amount if after.status == "applied" else 0
    assert (await service.account(account)).balance == credited
    ledger = await service.ledger(account, 1000)
    assert len([e for e in ledger if e.kind == "topup"]) == sum(first[p.id] == "paid" for p in rows)
