"""Money rules closed (issue 12 point 7): currencies must match, every amount and product stays within 2^53 - 1,
the scripts take one JSON object and answer one, and share one idempotency preamble."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable

import pytest

from ocs.charging import CurrencyMismatch, InvalidAmount, Tariff, Unit
from ocs.charging.rating import MAX_AMOUNT
from ocs.services.charging import ChargingService
from ocs.store.charging_redis import reservation_key

pytestmark = pytest.mark.asyncio

NOW = 1_700_000_000.0
NewAccount = Callable[..., Awaitable[str]]


async def snapshot(service: ChargingService, account: str) -> tuple[object, ...]:
    view = await service.account(account)
    return view.balance, view.held, view.bundles, await service.redis.reservations(account), \
        len(await service.ledger(account))


async def test_usage_in_another_currency_is_refused(service: ChargingService, new_account: NewAccount) -> None:
    await service.set_tariff(Tariff(31, Unit.OCTETS, 1000, 2, 5, "EUR"))
    usd = await new_account(balance=10_000, currency="USD")
    before = await snapshot(service, usd)
    with pytest.raises(CurrencyMismatch, match="account in USD, tariff in EUR"):
        await service.reserve(usd, "s1", 31, 5000, now=NOW)
    with pytest.raises(CurrencyMismatch):
        await service.commit(usd, "s1", 31, 5000, "s1:31:1", now=NOW)
    with pytest.raises(CurrencyMismatch):
        await service.update(usd, "s1", 31, 5000, 5000, "s1:31:2", now=NOW)
    assert await snapshot(service, usd) == before
    eur = await new_account(balance=10_000, currency="EUR")   # the same tariff charges a EUR account
    assert (await service.reserve(eur, "s1", 31, 5000, now=NOW)).granted == 5000


async def test_amounts_and_products_beyond_2_53_are_refused(service: ChargingService,
                                                           new_account: NewAccount) -> None:
    await service.set_tariff(Tariff(32, Unit.OCTETS, 1, 1000, 1000, "EUR"))
    acct = await new_account(balance=MAX_AMOUNT - 10)
    before = await snapshot(service, acct)
    units = MAX_AMOUNT // 1000 + 1     # fits 2^53 itself, but units x price does not
    with pytest.raises(InvalidAmount, match="x price 1000"):
        await service.reserve(acct, "s", 32, units, now=NOW)
    with pytest.raises(InvalidAmount, match="x price 1000"):
        await service.commit(acct, "s", 32, units, "s:32:1", now=NOW)
    with pytest.raises(InvalidAmount, match="x price 1000"):
        await service.update(acct, "s", 32, units, 1, "s:32:2", now=NOW)
    with pytest.raises(InvalidAmount, match="exceeds"):
        await service.top_up(acct, MAX_AMOUNT + 1, "too-much")
    # the script refuses what Python did not see: a credit that takes the balance past 2^53 - 1, and a commit
    # whose product overflows (here called directly, as a caller bypassing the service would)
    with pytest.raises(InvalidAmount, match="exceeds"):
        await service.top_up(acct, 11, "over-the-top")
    with pytest.raises(InvalidAmount, match="exceeds"):
        await service.redis.commit(acct, reservation_key("s", 32), units, None, 1, 1000, int(NOW), int(NOW * 1000),
                                   "s:32:3", 32, "EUR")
    assert await snapshot(service, acct) == before
    exact = await service.top_up(acct, 10, "to-the-top")  # exactly 2^53 - 1 comes back exact (not 9.007e+15)
    assert exact.balance == MAX_AMOUNT and (await service.account(acct)).balance == MAX_AMOUNT


async def test_scripts_take_one_json_object_and_answer_one(service: ChargingService,
                                                         new_account: NewAccount) -> None:
    acct = await new_account()
    s = service.store
    params = {"account": acct, "kind": "topup", "amount": 123456789012345, "ref": "j-1", "ts": 1,
              "detail": "{}", "gift": "", "gift_record": ""}
    raw = await s.evalsha("money", [s.key(acct, "acct"), s.slot_key(acct, "ledger"), s.key(acct, "refs"),
                                    s.key(acct, "gifts")], [json.dumps(params)])
    assert json.loads(raw) == {"entry": f"{acct}:1", "balance": 123456789012345, "duplicate": 0}
    again = json.loads(await s.evalsha("money", [s.key(acct, "acct"), s.slot_key(acct, "ledger"),
                                                 s.key(acct, "refs"), s.key(acct, "gifts")], [json.dumps(params)]))
    assert (again["entry"], again["balance"], again["duplicate"]) == (f"{acct}:1", 123456789012345, 1)
    for name in ("money", "activate", "reserve", "commit", "update", "release", "reap", "expire", "open"):
        source = s.scripts[name].source.split("\n-- " + name + ".lua", 1)[1]
        assert "ARGV[1]" in source and "ARGV[2]" not in source, name


async def test_a_request_record_of_the_previous_version_still_answers_a_retransmission(
        service: ChargingService, new_account: NewAccount) -> None:
    await service.set_tariff(Tariff(33, Unit.OCTETS, 1000, 2, 5, "EUR"))
    acct = await new_account(balance=1000)
    await service.store.client.set(service.store.key(acct, "req:s:33:7"), "40|0|20000|0|" + acct + ":9", ex=60)
    again = await service.commit(acct, "s", 33, 20000, "s:33:7", now=NOW)
    assert (again.charged, again.from_balance, again.entry_id, again.duplicate) == (40, 20000, f"{acct}:9", True)
    assert (await service.account(acct)).balance == 1000


async def test_a_refused_call_in_a_batch_is_raised_not_counted_as_zero(service: ChargingService,
                                                                      new_account: NewAccount) -> None:
    """The reaper and the expiry sweep run one script per account together (`_gather`): a refusal must reach
    the caller (before, it became a 0 in the count), and the other accounts' calls still run."""
    from ocs.charging import InsufficientFunds
    from ocs.store.charging_redis import _gather

    poor, rich = await new_account(balance=5), await new_account(balance=500)
    with pytest.raises(InsufficientFunds):
        await _gather([service.redis.money(poor, "adjust", -50, "b-1", 1),
                       service.redis.money(rich, "adjust", -50, "b-2", 1)])
    assert (await service.account(poor)).balance == 5 and (await service.account(rich)).balance == 450
    assert [r.balance for r in await _gather([service.redis.money(rich, "adjust", -50, "b-3", 1)])] == [400]
