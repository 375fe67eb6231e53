"""The payment service in-process against the real Redis and PostgreSQL and the fake Daraja: the OAuth token is
cached, a payment whose application fails stays confirmed until reconcile applies it (once), and expiry notices
go out once per package or bundle."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import asyncpg
import pytest
import pytest_asyncio

from ocs.charging import Allowances, BundleDefinition, BundleKind
from ocs.config.payments import MpesaConfig, PaymentsConfig
from ocs.payments.daraja import DarajaClient
from ocs.payments.expiry import ExpiryNotices
from ocs.payments.notify import WebhookNotifier
from ocs.payments.service import PaymentService
from ocs.payments.store import PaymentStore
from ocs.services.charging import ChargingService
from ocs.services.hotspot import HotspotService
from ocs.store.redis_client import RedisStore
from radius.hotspot import HotspotPackage
from tests.support.fake_daraja import CONSUMER_KEY, CONSUMER_SECRET, PASSKEY, SHORTCODE, FakeDaraja

pytestmark = [pytest.mark.asyncio, pytest.mark.integration]
NewAccount = Callable[..., Awaitable[str]]


@pytest.fixture(scope="module")
def fake() -> FakeDaraja:
    f = FakeDaraja().start()
    yield f
    f.stop()


@pytest_asyncio.fixture
async def daraja(fake: FakeDaraja) -> AsyncIterator[DarajaClient]:
    client = DarajaClient(MpesaConfig(base_url=fake.url, consumer_key=CONSUMER_KEY, consumer_secret=CONSUMER_SECRET,
                                      shortcode=SHORTCODE, passkey=PASSKEY, callback_base_url="http://127.0.0.1:9",
                                      path_token="t" * 20))
    yield client
    await client.close()


async def test_token_cached_push_and_query(fake: FakeDaraja, daraja: DarajaClient):
    fake.scenario["254700000001"] = "silent"
    before = len([k for k, _ in fake.requests if k == "oauth"])
    accepted = await daraja.stk_push("254700000001", 10, "topup")
    status = await daraja.stk_query(accepted.checkout_request_id)
    assert status.result_code == "0"
    unknown = await daraja.stk_query("ws_CO_nobody")
    assert unknown.result_code is None  # "The transaction is being processed"
    assert len([k for k, _ in fake.requests if k == "oauth"]) == before + 1
    fake.tokens.clear()  # the provider revoked the token: one new token, the call succeeds
    assert (await daraja.stk_query(accepted.checkout_request_id)).result_code == "0"
    assert len([k for k, _ in fake.requests if k == "oauth"]) == before + 2


async def test_apply_failure_leaves_the_payment_for_reconcile(redis_store: RedisStore, pg_pool: asyncpg.Pool,
                                                               service: ChargingService):
    hotspot = HotspotService(redis_store, pg_pool)
    code = "p" + secrets.token_hex(3)
    await hotspot.create_package(HotspotPackage(code, "Hour", 3600, None, "1M/1M", 1, 1, 1000))
    store = PaymentStore(pg_pool)
    config = PaymentsConfig(apply_retries=1)
    broken = PaymentService(store, service, None, config, currency="EUR")  # no hotspot service: apply fails
    p, created = await store.create_confirmed(provider="acme", network="acme", ref="acme:1", receipt="1",
                                              amount=1000, currency="EUR", purpose="hotspot", item=code,
                                              mac="AA:BB:CC:00:00:01")
    assert created
    after = await broken.apply(p.id)
    assert after is not None and after.status == "confirmed" and after.attempts == 1 and after.last_error
    working = PaymentService(store, service, hotspot, config, currency="EUR")
    assert await working.reconcile() == 1
    done = await store.get(p.id)
    assert done is not None and done.status == "applied" and done.voucher
    assert await working.reconcile() == 0
    voucher = await hotspot.voucher(done.voucher)
    assert voucher["bound_mac"] == "AA:BB:CC:00:00:01"
    ledger = await service.ledger(voucher["account"])
    assert sorted((e.kind, e.amount) for e in ledger) == [("adjust", -1000), ("topup", 1000)]
    assert [e.detail.get("receipt") for e in ledger if e.kind == "topup"] == ["1"]


async def test_expiry_notices_once(redis_store: RedisStore, pg_pool: asyncpg.Pool, service: ChargingService,
                                   new_account: NewAccount, fake: FakeDaraja):
    account = await new_account(balance=1000)
    code = "b" + secrets.token_hex(3)
    await service.create_bundle(BundleDefinition(code, "1 GB day", BundleKind.DATA, Allowances(data_octets=10**9),
                                                 1, 10, 100, "EUR"))
    await service.purchase(account, code, "buy-" + code)
    notifier = WebhookNotifier(f"{fake.url}/notify", 5.0)
    try:
        notices = ExpiryNotices(pg_pool, service, HotspotService(redis_store, pg_pool), notifier, 48)
        far = ExpiryNotices(pg_pool, service, HotspotService(redis_store, pg_pool), notifier, 1)
        assert await far.run_once() == 0  # expires in 24 h: not within 1 h
        assert await notices.run_once() == 1
        assert await notices.run_once() == 0
    finally:
        await notifier.close()
    sent = [n for n in fake.notices if n.get("bundle") == code]
    assert len(sent) == 1 and sent[0]["event"] == "bundle.expiring" and sent[0]["account"] == account
    assert sent[0]["expires_at"] > time.time()


async def test_a_watcher_hears_changes_made_by_another_process(pg_pool: asyncpg.Pool, service: ChargingService):
    """Two services sharing PostgreSQL stand for two ocsd processes: the watcher of one hears (LISTEN/NOTIFY)
    the payment another one confirms and fails."""
    store = PaymentStore(pg_pool)
    here = PaymentService(store, service, None, PaymentsConfig(), currency="EUR")
    there = PaymentService(PaymentStore(pg_pool), service, None, PaymentsConfig(), currency="EUR")
    p = await store.create(provider="mpesa-stk", network="mpesa", ref="mpesa-stk:w1", amount=100, currency="EUR",
                           purpose="topup", account_id=None, status="pending")
    try:
        async with here.watch(p.id) as changes:
            await there.store.finish(p.id, "failed", "1032", "Request cancelled by user")
            seen = await asyncio.wait_for(changes.get(), 5)
            assert (seen.id, seen.status, seen.result_code) == (p.id, "failed", "1032")
    finally:
        await here.stop()
        await there.stop()
