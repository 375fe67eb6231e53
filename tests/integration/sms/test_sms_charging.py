"""SMS charging against the real Redis and PostgreSQL: price by destination, tiers, exactly once per message id,
refusals that change nothing, the rate limit, refunds and delivery states, dispatch counters."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable

import pytest

from ocs.charging import InsufficientFunds
from ocs.config.sms import SmsConfig
from ocs.services.charging import ChargingService
from ocs.sms.errors import MessageConflict, NoSmsTariff, RateLimited, SenderNotApproved, UnknownDispatch
from ocs.sms.events import DeliveryReport, SubmitResult
from ocs.sms.pricing import SmsTariff
from ocs.sms.service import ChargeRequest, SmsService
from tests.integration.sms.conftest import PLAN

pytestmark = pytest.mark.asyncio
NewAccount = Callable[..., Awaitable[str]]
NOW = 1_780_000_000.0


def mid() -> str:
    return "m-" + secrets.token_hex(6)


async def balance(service: ChargingService, account: str) -> int:
    view = await service.account(account)
    assert view is not None
    return view.balance


async def test_longest_prefix_price_and_exactly_once(sms: SmsService, service: ChargingService,
                                                     new_account: NewAccount) -> None:
    account = await new_account(100)
    m = mid()
    first = await sms.charge(ChargeRequest(account, m, "+254712345678", parts=2), now=NOW)
    assert (first.price, first.balance, first.duplicate, first.plan) == (6, 94, False, PLAN)  # 25471: 3 a part
    again = await sms.charge(ChargeRequest(account, m, "+254712345678", parts=2), now=NOW + 1)
    assert (again.price, again.duplicate, again.entry) == (6, True, first.entry)
    assert (await sms.charge(ChargeRequest(account, mid(), "254733000000"), now=NOW)).price == 5  # 254 only
    assert await balance(service, account) == 89
    entries = await service.ledger(account)
    assert [(e.kind, e.amount, e.ref) for e in entries[:2]][1] == ("sms", -6, m)
    record = await sms.message(m)
    assert (record["account"], record["dest"], record["parts"], record["price"], record["submit"]) == (
        account, "254712345678", 2, 6, "pending")
    other = await new_account(100)
    with pytest.raises(MessageConflict):
        await sms.charge(ChargeRequest(other, m, "254712345678"), now=NOW)
    assert await balance(service, other) == 100


async def test_refusals_change_nothing(sms: SmsService, service: ChargingService, new_account: NewAccount) -> None:
    account = await new_account(4)
    with pytest.raises(InsufficientFunds):
        await sms.charge(ChargeRequest(account, mid(), "254733000000"), now=NOW)
    with pytest.raises(NoSmsTariff):
        await sms.charge(ChargeRequest(account, mid(), "33612345678"), now=NOW)
    with pytest.raises(SenderNotApproved):
        await sms.charge(ChargeRequest(account, mid(), "254712345678", sender_id="ACME"), now=NOW)
    await sms.add_sender(account, "ACME")
    with pytest.raises(SenderNotApproved):
        await sms.charge(ChargeRequest(account, mid(), "254712345678", sender_id="ACME"), now=NOW)
    await sms.decide_sender(account, "ACME", "approved")
    with pytest.raises(UnknownDispatch):
        await sms.charge(ChargeRequest(account, mid(), "254712345678", dispatch_id="nope"), now=NOW)
    assert await balance(service, account) == 4
    ok = await sms.charge(ChargeRequest(account, mid(), "254712345678", sender_id="ACME"), now=NOW)
    assert ok.balance == 1
    await sms.decide_sender(account, "ACME", "rejected")
    with pytest.raises(SenderNotApproved):
        await sms.charge(ChargeRequest(account, mid(), "254712345678", sender_id="ACME"), now=NOW)


async def test_volume_tiers_count_parts_per_month(sms: SmsService, new_account: NewAccount) -> None:
    await sms.set_tariff(SmsTariff("bulk", "prefix", "254", 0, 10, "EUR"))
    await sms.set_tariff(SmsTariff("bulk", "prefix", "254", 3, 4, "EUR"))
    account = await new_account(1000)
    await sms.set_account(account, plan="bulk")
    prices = [(await sms.charge(ChargeRequest(account, mid(), "254700000001", parts=2), now=NOW)).price
              for _ in range(3)]
    assert prices == [20, 14, 8]  # parts 0-1 at 10, 2 at 10 and 3 at 4, then 4-5 at 4
    next_month = NOW + 40 * 86400
    assert (await sms.charge(ChargeRequest(account, mid(), "254700000001"), now=next_month)).price == 10


async def test_rate_limit_token_bucket(sms: SmsService, new_account: NewAccount) -> None:
    account = await new_account(1000)
    await sms.set_account(account, rate_limit=2)  # 2 messages a second, burst 2
    await sms.charge(ChargeRequest(account, mid(), "254700000001"), now=NOW)
    await sms.charge(ChargeRequest(account, mid(), "254700000001"), now=NOW)
    with pytest.raises(RateLimited) as refused:
        await sms.charge(ChargeRequest(account, mid(), "254700000001"), now=NOW + 0.1)
    assert 0 < refused.value.retry_after_ms <= 500
    await sms.charge(ChargeRequest(account, mid(), "254700000001"), now=NOW + 0.6)  # a token came back


async def test_rate_limit_from_config(redis_store, pg_pool, new_account: NewAccount) -> None:  # type: ignore[no-untyped-def]
    svc = SmsService(redis_store, pg_pool, SmsConfig(default_plan=PLAN, rate_limit=1, rate_burst=1))
    await svc.set_tariff(SmsTariff(PLAN, "prefix", "254", 0, 1, "EUR"))
    account = await new_account(100)
    await svc.charge(ChargeRequest(account, mid(), "254700000001"), now=NOW)
    with pytest.raises(RateLimited):
        await svc.charge(ChargeRequest(account, mid(), "254700000001"), now=NOW + 0.5)


async def test_submit_results_finalize_or_refund_once(sms: SmsService, service: ChargingService,
                                                      new_account: NewAccount) -> None:
    account = await new_account(100)
    dispatch = await sms.create_dispatch(account, "promo")
    ok, bad = mid(), mid()
    for m in (ok, bad):
        await sms.charge(ChargeRequest(account, m, "254712345678", dispatch_id=dispatch["dispatch_id"]), now=NOW)
    assert await balance(service, account) == 94
    done = await sms.submit_result(SubmitResult(ok, "ESME_ROK", "ABC1"), now=NOW + 1)
    assert (done.found, done.changed, done.refunded, done.submit) == (True, True, 0, "accepted")
    refused = await sms.submit_result(SubmitResult(bad, "ESME_RTHROTTLED"), now=NOW + 1)
    assert (refused.changed, refused.refunded, refused.submit) == (True, 3, "failed")
    for _ in range(2):  # the same events again change nothing
        assert not (await sms.submit_result(SubmitResult(bad, "ESME_RTHROTTLED"), now=NOW + 2)).changed
        assert not (await sms.submit_result(SubmitResult(ok, "ESME_ROK", "ABC1"), now=NOW + 2)).changed
    assert await balance(service, account) == 97
    kinds = [(e.kind, e.amount, e.ref) for e in await service.ledger(account)]
    assert kinds.count(("sms_refund", 3, bad + ":refund")) == 1
    delivered = await sms.delivery(DeliveryReport(None, "DELIVRD", "ABC1", {}), now=NOW + 3)
    assert (delivered.changed, delivered.delivery) == (True, "delivered")
    assert not (await sms.delivery(DeliveryReport(None, "DELIVRD", "ABC1", {}), now=NOW + 4)).changed
    assert not (await sms.delivery(DeliveryReport(None, "ACCEPTD", "ABC1", {}), now=NOW + 4)).changed
    d = await sms.dispatch(dispatch["dispatch_id"])
    assert (d["sent"], d["delivered"], d["failed"], d["pending"], d["cost"]) == (2, 1, 1, 0, 3)
    unknown = await sms.submit_result(SubmitResult("never-charged", "ESME_ROK"))
    assert not unknown.found


async def test_refund_on_undelivered_by_policy(sms: SmsService, service: ChargingService,
                                               new_account: NewAccount) -> None:
    keep, refund = await new_account(100), await new_account(100)
    await sms.set_account(refund, refund_on_failure=True)
    for account in (keep, refund):
        m = mid()
        await sms.charge(ChargeRequest(account, m, "254712345678"), now=NOW)
        await sms.submit_result(SubmitResult(m, "ESME_ROK"), now=NOW)
        out = await sms.delivery(DeliveryReport(m, "UNDELIV", None, {}), now=NOW + 5)
        assert out.delivery == "failed"
        again = await sms.delivery(DeliveryReport(m, "REJECTD", None, {}), now=NOW + 6)
        assert not again.changed  # a final state stays
        assert (await sms.message(m))["refunded"] is (account == refund)
    assert (await balance(service, keep), await balance(service, refund)) == (97, 100)


async def test_lua_prices_agree_with_the_pure_model(sms: SmsService, new_account: NewAccount) -> None:
    """sms_charge.lua's tier loop against ocs.sms.pricing.price_of, on random tiers and message sizes."""
    import random

    from ocs.sms.pricing import price_of

    rng = random.Random(18)
    for case in range(12):
        plan = f"prop-{case}-{secrets.token_hex(2)}"
        tiers = tuple(sorted({rng.randrange(0, 12): rng.randrange(0, 50) for _ in range(rng.randrange(1, 4))}.items()))
        for from_count, price in tiers:
            await sms.set_tariff(SmsTariff(plan, "prefix", "254", from_count, price, "EUR"))
        account = await new_account(10**9)
        await sms.set_account(account, plan=plan)
        sent = 0
        for _ in range(5):
            parts = rng.randrange(1, 6)
            charged = await sms.charge(ChargeRequest(account, mid(), "254700000001", parts=parts), now=NOW)
            assert charged.price == price_of(tiers, sent, parts), (tiers, sent, parts)
            sent += parts


async def test_records_written_behind_into_postgresql(sms: SmsService, redis_store, pg_pool,  # type: ignore[no-untyped-def]
                                                      new_account: NewAccount) -> None:
    from ocs.sms.records import SmsRecordWriter

    writer = SmsRecordWriter(redis_store, pg_pool)
    await writer.drain()  # what other tests of this module left
    account = await new_account(100)
    m = mid()
    await sms.charge(ChargeRequest(account, m, "254712345678", parts=2), now=NOW)
    await sms.submit_result(SubmitResult(m, "ESME_ROK", "77"), now=NOW + 1)
    await sms.delivery(DeliveryReport(m, "DELIVRD", None, {}), now=NOW + 2)
    assert await writer.write_once() == 3  # three snapshots, the newest written
    async with pg_pool.acquire() as conn:
        row = await conn.fetchrow("SELECT * FROM sms_messages WHERE message_id = $1", m)
    assert (row["account_id"], row["parts"], row["price"], row["submit"], row["delivery"], row["rev"]) == (
        account, 2, 6, "accepted", "delivered", 3)
    assert await writer.write_once() == 0
    await redis_store.client.delete(sms.redis.record_key(account, m))  # the Redis record expired
    stored = await sms.message(m)
    assert (stored["account"], stored["price"], stored["delivery"], stored["charged_at"]) == (
        account, 6, "delivered", int(NOW * 1000))
