"""Usage rules against the real Redis: bundle order and split, expiry, roaming, rounding, over-use, release,
reaper, retransmitted commits."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

import pytest

from ocs.charging import (
    Allowances,
    BundleDefinition,
    BundleKind,
    Dimension,
    InsufficientFunds,
    Tariff,
    Unit,
    UnknownSubscriber,
)
from ocs.services.charging import DAY, ChargingService

pytestmark = pytest.mark.asyncio

NOW = 1_700_000_000.0
DATA_RG, VOICE_RG, SMS_RG = 10, 20, 30
NewAccount = Callable[..., Awaitable[str]]


def bundle(code: str, priority: int = 100, data: int = 0, voice: int = 0, sms: int = 0, roaming: int = 0,
           days: int = 30, price: int = 0) -> BundleDefinition:
    kind = BundleKind.HYBRID if sum(bool(x) for x in (data, voice, sms, roaming)) > 1 else (
        BundleKind.DATA if data or roaming else BundleKind.VOICE if voice else BundleKind.SMS)
    return BundleDefinition(code, code.upper(), kind, Allowances(data, voice, sms, roaming), days, priority, price,
                            "EUR")


async def setup_tariffs(service: ChargingService) -> None:
    # data: 2 cents per started 1000 octets home, 50 roaming; voice: 10 per started 60 s; sms: 5 per event
    await service.set_tariff(Tariff(DATA_RG, Unit.OCTETS, 1000, 2, 50, "EUR"))
    await service.set_tariff(Tariff(VOICE_RG, Unit.SECONDS, 60, 10, 40, "EUR"))
    await service.set_tariff(Tariff(SMS_RG, Unit.EVENTS, 1, 5, 20, "EUR"))


def code() -> str:
    return "b" + secrets.token_hex(4)


def remaining(view_bundles: tuple, dim: Dimension) -> dict[str, int]:  # type: ignore[type-arg]
    return {b.code: b.remaining.get(dim) for b in view_bundles}


async def test_bundles_drawn_by_priority_then_expiry_and_split(service: ChargingService,
                                                              new_account: NewAccount) -> None:
    await setup_tariffs(service)
    imsi = await new_account(balance=10_000)
    low, mid_late, mid_early = code(), code(), code()
    await service.create_bundle(bundle(low, priority=200, data=5000, price=0))
    await service.create_bundle(bundle(mid_late, priority=10, data=3000, days=30))
    await service.create_bundle(bundle(mid_early, priority=10, data=2000, days=7))
    for c in (low, mid_late, mid_early):
        await service.purchase(imsi, c, "buy-" + c, now=NOW)

    grant = await service.reserve(imsi, "s1", DATA_RG, 6000, now=NOW)
    assert (grant.granted, grant.from_bundles, grant.from_balance, grant.money_held) == (6000, 6000, 0, 0)
    result = await service.commit(imsi, "s1", DATA_RG, 6000, "s1:10:0", now=NOW)
    assert (result.charged, result.from_bundles, result.from_balance) == (0, 6000, 0)
    view = await service.account(imsi)
    # priority 10 first, the earlier expiry of the two first, then the next, then priority 200
    assert remaining(view.bundles, Dimension.DATA) == {mid_early: 0, mid_late: 0, low: 4000}
    assert view.balance == 10_000 and view.held == 0


async def test_then_balance_at_tariff_rounded_up(service: ChargingService, new_account: NewAccount) -> None:
    await setup_tariffs(service)
    imsi = await new_account(balance=1000)
    c = code()
    await service.create_bundle(bundle(c, data=500))
    await service.purchase(imsi, c, "p1", now=NOW)
    grant = await service.reserve(imsi, "s", DATA_RG, 2600, now=NOW)
    # 500 from the bundle, 2100 from money: 3 started blocks of 1000 at 2 = 6 held
    assert (grant.granted, grant.from_bundles, grant.from_balance, grant.money_held) == (2600, 500, 2100, 6)
    assert (await service.account(imsi)).held == 6
    result = await service.commit(imsi, "s", DATA_RG, 1501, "r1", now=NOW)
    # 500 from bundle, 1001 from balance -> 2 blocks -> 4
    assert (result.charged, result.from_bundles, result.from_balance, result.unpaid) == (4, 500, 1001, 0)
    view = await service.account(imsi)
    assert (view.balance, view.held) == (996, 0)


async def test_expired_bundle_never_serves(service: ChargingService, new_account: NewAccount) -> None:
    await setup_tariffs(service)
    imsi = await new_account(balance=100)
    short, long_ = code(), code()
    await service.create_bundle(bundle(short, priority=1, voice=600, days=1))
    await service.create_bundle(bundle(long_, priority=2, voice=600, days=30))
    await service.purchase(imsi, short, "p-short", now=NOW)
    await service.purchase(imsi, long_, "p-long", now=NOW)
    later = NOW + 2 * DAY
    grant = await service.reserve(imsi, "call", VOICE_RG, 300, now=later)
    assert grant.from_bundles == 300
    await service.commit(imsi, "call", VOICE_RG, 300, "c1", now=later)
    view = await service.account(imsi)
    assert remaining(view.bundles, Dimension.VOICE) == {short: 600, long_: 300}
    assert await service.expire_bundles(imsi, now=later) == 1
    view = await service.account(imsi)
    assert [b.code for b in view.bundles] == [long_]
    entries = await service.ledger(imsi)
    assert entries[0].kind == "expire"
    assert entries[0].detail["expired"] == [{"id": 2, "code": short, "d": 0, "v": 600, "s": 0, "r": 0}]


async def test_sweep_expires_all_subscribers(service: ChargingService, new_account: NewAccount) -> None:
    await setup_tariffs(service)
    c = code()
    await service.create_bundle(bundle(c, sms=10, days=1))
    imsis = [await new_account(balance=10) for _ in range(3)]
    for imsi in imsis:
        await service.purchase(imsi, c, "p", now=NOW)
    assert await service.expire_bundles(now=NOW + DAY - 1) == 0
    assert await service.expire_bundles(now=NOW + DAY) == 3
    for imsi in imsis:
        assert (await service.account(imsi)).bundles == ()


async def test_roaming_uses_roaming_allowance_and_roaming_price(service: ChargingService,
                                                                new_account: NewAccount) -> None:
    await setup_tariffs(service)
    imsi = await new_account(balance=1000)
    home, roam = code(), code()
    await service.create_bundle(bundle(home, data=10_000))
    await service.create_bundle(bundle(roam, roaming=1000))
    await service.purchase(imsi, home, "p-home", now=NOW)
    await service.purchase(imsi, roam, "p-roam", now=NOW)
    grant = await service.reserve(imsi, "r", DATA_RG, 3000, roaming=True, now=NOW)
    assert (grant.from_bundles, grant.from_balance, grant.money_held) == (1000, 2000, 100)
    result = await service.commit(imsi, "r", DATA_RG, 2500, "r1", roaming=True, now=NOW)
    assert (result.charged, result.from_bundles, result.from_balance) == (100, 1000, 1500)
    view = await service.account(imsi)
    assert remaining(view.bundles, Dimension.DATA) == {home: 10_000, roam: 0}
    assert remaining(view.bundles, Dimension.ROAMING_DATA) == {home: 0, roam: 0}
    assert view.balance == 900
    # roaming voice: no bundle serves it, roaming price applies
    grant = await service.reserve(imsi, "v", VOICE_RG, 61, roaming=True, now=NOW)
    assert (grant.from_bundles, grant.from_balance, grant.money_held) == (0, 61, 80)


async def test_grant_limited_to_what_is_affordable(service: ChargingService, new_account: NewAccount) -> None:
    await setup_tariffs(service)
    imsi = await new_account(balance=5)
    grant = await service.reserve(imsi, "s", DATA_RG, 10_000, now=NOW)
    assert (grant.granted, grant.money_held) == (2000, 4)
    with pytest.raises(InsufficientFunds):
        await service.reserve(imsi, "other", DATA_RG, 10, now=NOW)  # 1 left, a block costs 2
    assert (await service.account(imsi)).held == 4


async def test_over_use_charged_from_what_remains_never_below_zero(service: ChargingService,
                                                                   new_account: NewAccount) -> None:
    await setup_tariffs(service)
    imsi = await new_account(balance=10)
    await service.reserve(imsi, "s", DATA_RG, 1000, now=NOW)
    result = await service.commit(imsi, "s", DATA_RG, 20_000, "over", now=NOW)
    # 20 blocks = 40 due, 10 there: charged 10, 30 unpaid, balance 0
    assert (result.charged, result.unpaid, result.from_balance) == (10, 30, 20_000)
    view = await service.account(imsi)
    assert (view.balance, view.held) == (0, 0)
    entry = (await service.ledger(imsi))[0]
    assert (entry.kind, entry.amount, entry.balance_after, entry.detail["unpaid"]) == ("usage", -10, 0, 30)


async def test_over_use_draws_other_bundles_first(service: ChargingService, new_account: NewAccount) -> None:
    await setup_tariffs(service)
    imsi = await new_account(balance=100)
    c = code()
    await service.create_bundle(bundle(c, sms=3))
    await service.purchase(imsi, c, "p", now=NOW)
    await service.reserve(imsi, "sms", SMS_RG, 1, now=NOW)
    result = await service.commit(imsi, "sms", SMS_RG, 5, "x", now=NOW)
    assert (result.from_bundles, result.from_balance, result.charged) == (3, 2, 10)


async def test_release_returns_the_rest(service: ChargingService, new_account: NewAccount) -> None:
    await setup_tariffs(service)
    imsi = await new_account(balance=100)
    c = code()
    await service.create_bundle(bundle(c, voice=120))
    await service.purchase(imsi, c, "p", now=NOW)
    grant = await service.reserve(imsi, "s", VOICE_RG, 300, now=NOW)
    assert (grant.from_bundles, grant.from_balance, grant.money_held) == (120, 180, 30)
    view = await service.account(imsi)
    assert (view.held, view.bundles[0].held.voice_seconds) == (30, 120)
    assert await service.release(imsi, "s", VOICE_RG) == 300
    view = await service.account(imsi)
    assert (view.balance, view.held, view.bundles[0].held.voice_seconds, view.bundles[0].remaining.voice_seconds) \
        == (100, 0, 0, 120)
    assert await service.release(imsi, "s", VOICE_RG) == 0
    # commit of less than reserved releases the rest
    await service.reserve(imsi, "s2", VOICE_RG, 300, now=NOW)
    result = await service.commit(imsi, "s2", VOICE_RG, 100, "s2:1", now=NOW)
    assert (result.from_bundles, result.charged) == (100, 0)
    view = await service.account(imsi)
    assert (view.balance, view.held, view.bundles[0].remaining.voice_seconds, view.bundles[0].held.voice_seconds) \
        == (100, 0, 20, 0)


async def test_reserve_again_replaces_the_hold(service: ChargingService, new_account: NewAccount) -> None:
    await setup_tariffs(service)
    imsi = await new_account(balance=100)
    await service.reserve(imsi, "s", SMS_RG, 10, now=NOW)
    await service.reserve(imsi, "s", SMS_RG, 4, now=NOW)
    assert (await service.account(imsi)).held == 20


async def test_reaper_releases_stale_reservations(service: ChargingService, new_account: NewAccount) -> None:
    await setup_tariffs(service)
    a, b = await new_account(balance=100), await new_account(balance=100)
    await service.reserve(a, "old", SMS_RG, 4, now=NOW)
    await service.reserve(b, "new", SMS_RG, 2, now=NOW + 500)
    assert await service.reap_stale(300, now=NOW + 600) == 4
    assert (await service.account(a)).held == 0
    assert (await service.account(b)).held == 10
    assert await service.reap_stale(300, now=NOW + 600) == 0


async def test_retransmitted_commit_never_charges_twice(service: ChargingService, new_account: NewAccount) -> None:
    await setup_tariffs(service)
    imsi = await new_account(balance=100)
    await service.reserve(imsi, "s", SMS_RG, 2, now=NOW)
    first = await service.commit(imsi, "s", SMS_RG, 2, "s:30:1", now=NOW)
    again = await service.commit(imsi, "s", SMS_RG, 2, "s:30:1", now=NOW)
    assert (first.charged, first.duplicate, again.charged, again.duplicate) == (10, False, 10, True)
    assert again.entry_id == first.entry_id
    assert (await service.account(imsi)).balance == 90


async def test_unknown_subscriber(service: ChargingService) -> None:
    await setup_tariffs(service)
    with pytest.raises(UnknownSubscriber):
        await service.reserve("001019999999999", "s", SMS_RG, 1, now=NOW)


async def test_update_is_commit_then_reserve_in_one_call(service: ChargingService, new_account: NewAccount) -> None:
    """A CCR-U: the used units are charged from the reservation, then the next reservation is made, as if
    commit() and reserve() ran one after the other."""
    await setup_tariffs(service)
    one, two = await new_account(balance=1000), await new_account(balance=1000)
    for imsi in (one, two):
        await service.reserve(imsi, "s", DATA_RG, 20_000, now=NOW)
    updated = await service.update(one, "s", DATA_RG, 12_345, 30_000, "s:1", now=NOW)
    committed = await service.commit(two, "s", DATA_RG, 12_345, "s:1", now=NOW)
    grant = await service.reserve(two, "s", DATA_RG, 30_000, now=NOW)
    u, c = updated.committed, committed
    assert (u.charged, u.from_bundles, u.from_balance, u.unpaid, u.duplicate) == \
        (c.charged, c.from_bundles, c.from_balance, c.unpaid, c.duplicate)
    assert u.entry_id.split(":")[1] == c.entry_id.split(":")[1]
    assert updated.committed.charged == 26   # 13 started blocks of 1000 octets at 2
    assert updated.grant == grant
    a, b = await service.account(one), await service.account(two)
    assert (a.balance, a.held) == (b.balance, b.held) == (974, 60)
    entries = await service.ledger(one)
    assert [(e.kind, e.amount, e.ref) for e in entries[:1]] == [("usage", -26, "s:1")]


async def test_update_retransmission_changes_nothing(service: ChargingService, new_account: NewAccount) -> None:
    await setup_tariffs(service)
    imsi = await new_account(balance=1000)
    await service.reserve(imsi, "s", DATA_RG, 20_000, now=NOW)
    first = await service.update(imsi, "s", DATA_RG, 5000, 10_000, "s:2", now=NOW)
    before = await service.account(imsi)
    again = await service.update(imsi, "s", DATA_RG, 5000, 10_000, "s:2", now=NOW)
    assert again.committed.duplicate and not first.committed.duplicate
    assert (again.committed.charged, again.grant) == (first.committed.charged, first.grant)
    assert await service.account(imsi) == before


async def test_update_charges_even_when_nothing_more_can_be_granted(service: ChargingService,
                                                                    new_account: NewAccount) -> None:
    await setup_tariffs(service)
    imsi = await new_account(balance=10)
    grant = await service.reserve(imsi, "s", DATA_RG, 100_000, now=NOW)
    assert grant.granted == 5000          # 10 cents buy 5 blocks of 1000 octets
    updated = await service.update(imsi, "s", DATA_RG, 5000, 1000, "s:3", now=NOW)
    assert updated.committed.charged == 10 and updated.grant is None
    view = await service.account(imsi)
    assert (view.balance, view.held) == (0, 0)
    assert await service.redis.reservations(imsi) == {}
    with pytest.raises(InsufficientFunds):
        await service.reserve(imsi, "s", DATA_RG, 1000, now=NOW)
