"""Money operations against the real Redis and PostgreSQL: top-up, purchase, gift, adjust, refund."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

import pytest

from ocs.charging import (
    Allowances,
    BundleDefinition,
    BundleKind,
    CurrencyMismatch,
    DuplicateReference,
    GiftRefunded,
    InsufficientFunds,
    InvalidRecipient,
    UnknownBundle,
)
from ocs.services.charging import ChargingService

pytestmark = pytest.mark.asyncio

NOW = 1_700_000_000.0
NewAccount = Callable[..., Awaitable[str]]


async def data_bundle(service: ChargingService, price: int = 300, data: int = 10**9,
                      currency: str = "EUR") -> str:
    code = "d" + secrets.token_hex(4)
    await service.create_bundle(BundleDefinition(code, "1 GB", BundleKind.DATA, Allowances(data_octets=data), 30, 50,
                                                 price, currency))
    return code


async def state(service: ChargingService, imsi: str) -> tuple[int, int, tuple[tuple[str, int], ...], int]:
    view = await service.account(imsi)
    return view.balance, view.held, tuple((b.code, b.remaining.data_octets) for b in view.bundles), \
        len(await service.ledger(imsi))


async def test_top_up_idempotent_by_ref(service: ChargingService, new_account: NewAccount) -> None:
    imsi = await new_account()
    first = await service.top_up(imsi, 500, "voucher-1")
    again = await service.top_up(imsi, 500, "voucher-1")
    assert (first.balance, first.duplicate, again.balance, again.duplicate) == (500, False, 500, True)
    assert again.entry_id == first.entry_id == f"{imsi}:1"
    with pytest.raises(DuplicateReference):
        await service.top_up(imsi, 700, "voucher-1")
    # a SIM's MSISDN names its account through the Redis identity index
    msisdn = (await service.sims(imsi))[0].msisdn
    assert await service.account_of_msisdn(msisdn) == imsi
    assert (await service.top_up(await service.account_of_msisdn(msisdn), 1, "voucher-2")).balance == 501
    assert [e.amount for e in await service.ledger(imsi)] == [1, 500]


async def test_purchase_debits_and_activates(service: ChargingService, new_account: NewAccount) -> None:
    imsi = await new_account(balance=1000)
    code = await data_bundle(service)
    result = await service.purchase(imsi, code, "buy-1", now=NOW)
    assert (result.balance, result.duplicate) == (700, False)
    again = await service.purchase(imsi, code, "buy-1", now=NOW)
    assert (again.bundle_id, again.balance, again.duplicate) == (result.bundle_id, 700, True)
    view = await service.account(imsi)
    assert [(b.bundle_id, b.code, b.remaining.data_octets, b.expires_at) for b in view.bundles] == \
        [(result.bundle_id, code, 10**9, int(NOW) + 30 * 86400)]
    entry = (await service.ledger(imsi))[0]
    assert (entry.kind, entry.amount, entry.balance_after, entry.ref) == ("purchase", -300, 700, "buy-1")


async def test_purchase_insufficient_changes_nothing(service: ChargingService, new_account: NewAccount) -> None:
    imsi = await new_account(balance=299)
    code = await data_bundle(service)
    before = await state(service, imsi)
    with pytest.raises(InsufficientFunds):
        await service.purchase(imsi, code, "buy-x", now=NOW)
    assert await state(service, imsi) == before
    with pytest.raises(UnknownBundle):
        await service.purchase(imsi, "nope", "buy-y", now=NOW)
    usd = await data_bundle(service, currency="USD")
    with pytest.raises(CurrencyMismatch):
        await service.purchase(imsi, usd, "buy-z", now=NOW)
    assert await state(service, imsi) == before


async def test_held_money_cannot_buy(service: ChargingService, new_account: NewAccount) -> None:
    from ocs.charging import Tariff, Unit
    await service.set_tariff(Tariff(1, Unit.EVENTS, 1, 100, 100, "EUR"))
    imsi = await new_account(balance=350)
    await service.reserve(imsi, "s", 1, 1, now=NOW)   # holds 100
    code = await data_bundle(service)
    with pytest.raises(InsufficientFunds):
        await service.purchase(imsi, code, "b", now=NOW)


async def test_gift_sender_pays(service: ChargingService, new_account: NewAccount) -> None:
    sender, recipient = await new_account(balance=1000), await new_account(balance=5)
    code = await data_bundle(service)
    to = await service.account_of_msisdn((await service.sims(recipient))[0].msisdn)   # named by MSISDN
    gift = await service.gift(sender, to, code, "gift-1", now=NOW)
    assert (await service.account(sender)).balance == 700
    r = await service.account(recipient)
    assert r.balance == 5 and [(b.bundle_id, b.code) for b in r.bundles] == [(gift.bundle_id, code)]
    assert await service.redis.pending_gifts(sender) == {}
    out, in_ = (await service.ledger(sender))[0], (await service.ledger(recipient))[0]
    assert (out.kind, out.amount, out.ref, out.detail["to"]) == ("gift_out", -300, "gift-1", recipient)
    assert (in_.kind, in_.amount, in_.ref, in_.detail["from"]) == ("gift_in", 0, "gift-1", sender)
    again = await service.gift(sender, recipient, code, "gift-1", now=NOW)
    assert again == gift
    assert (await service.account(sender)).balance == 700
    assert len((await service.account(recipient)).bundles) == 1


async def test_gift_insufficient_changes_nothing(service: ChargingService, new_account: NewAccount) -> None:
    sender, recipient = await new_account(balance=100), await new_account()
    code = await data_bundle(service)
    before = (await state(service, sender), await state(service, recipient))
    with pytest.raises(InsufficientFunds):
        await service.gift(sender, recipient, code, "gift-2", now=NOW)
    assert (await state(service, sender), await state(service, recipient)) == before
    with pytest.raises(InvalidRecipient):
        await service.gift(sender, sender, code, "gift-3", now=NOW)


async def test_gift_to_subscriber_without_account_refunds(service: ChargingService, new_account: NewAccount,
                                                          new_subscriber: Callable[[], Awaitable[str]]) -> None:
    sender, no_account = await new_account(balance=1000), await new_subscriber()
    code = await data_bundle(service)
    with pytest.raises(InvalidRecipient):
        await service.gift(sender, no_account, code, "gift-4", now=NOW)
    assert (await service.account(sender)).balance == 1000
    assert [e.kind for e in await service.ledger(sender)] == ["gift_refund", "gift_out", "topup"]
    # a retry never credits the recipient after the refund, even once the account exists
    await service.open_account("EUR", no_account)
    with pytest.raises(GiftRefunded):
        await service.gift(sender, no_account, code, "gift-4", now=NOW)
    assert (await service.account(no_account)).bundles == ()
    assert (await service.account(sender)).balance == 1000


async def test_gift_recovery_after_crash_between_halves(service: ChargingService, new_account: NewAccount) -> None:
    sender, recipient = await new_account(balance=1000), await new_account()
    code = await data_bundle(service)
    definition = await service.bundle(code)
    # the sender half only, as if the process died before crediting the recipient
    record = {"to": recipient, "code": code, "name": definition.name, "priority": definition.priority,
              "expires_at": int(NOW) + 86400, "d": 10**9, "v": 0, "s": 0, "r": 0, "price": 300}
    import json
    await service.redis.money(sender, "gift_out", -300, "gift-5", int(NOW * 1000), record, gift_id="gift-5",
                              gift_record=json.dumps(record))
    assert list(await service.redis.pending_gifts(sender)) == ["gift-5"]
    assert (await service.account(recipient)).bundles == ()
    assert await service.recover_gifts(sender, now=NOW) == 1
    assert [b.code for b in (await service.account(recipient)).bundles] == [code]
    assert await service.redis.pending_gifts(sender) == {}
    assert await service.recover_gifts(sender, now=NOW) == 0
    assert (await service.account(sender)).balance == 700


async def test_adjust_and_refund(service: ChargingService, new_account: NewAccount) -> None:
    imsi = await new_account(balance=100)
    assert (await service.adjust(imsi, -40, "adj-1", "wrong top-up")).balance == 60
    with pytest.raises(InsufficientFunds):
        await service.adjust(imsi, -61, "adj-2")
    assert (await service.refund(imsi, 25, "ref-1", "dropped call")).balance == 85
    assert (await service.adjust(imsi, 15, "adj-3")).balance == 100
    entries = await service.ledger(imsi)
    assert [(e.kind, e.amount) for e in entries] == [("adjust", 15), ("refund", 25), ("adjust", -40), ("topup", 100)]
    assert entries[2].detail == {"reason": "wrong top-up"}
