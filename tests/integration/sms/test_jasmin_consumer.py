"""The Jasmin consumers against a real RabbitMQ, Redis and PostgreSQL: Jasmin-shaped submit_sm_resp events
(ESME_ROK, ESME_RTHROTTLED) and DLRs change balance, ledger and records exactly once; malformed events and
pickles land in the dead-letter queue; a clean stop finishes what is in flight; the consumer survives a restart
of (a private) RabbitMQ and processes what arrived meanwhile."""

from __future__ import annotations

import pickle
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable

import aio_pika
import pytest
import pytest_asyncio

from ocs.config.sms import SmsConfig
from ocs.services.charging import ChargingService
from ocs.sms.consumer import JasminConsumers
from ocs.sms.service import ChargeRequest, SmsService
from tests.support.rabbitmq import (
    AMQP_URL,
    Jasmin,
    PrivateNode,
    connect_or_skip,
    delete_topology,
    eventually,
    unique_config,
)

pytestmark = pytest.mark.asyncio
NewAccount = Callable[..., Awaitable[str]]


def mid() -> str:
    return "m-" + secrets.token_hex(6)


@pytest_asyncio.fixture
async def amqp() -> AsyncIterator[tuple[SmsConfig, Jasmin]]:
    connection = await connect_or_skip()
    config = unique_config()
    try:
        yield config, Jasmin(connection, config)
    finally:
        await connection.close()
        await delete_topology(AMQP_URL, config)


async def started(sms: SmsService, config: SmsConfig) -> JasminConsumers:
    sms.config = config
    consumers = JasminConsumers(sms, config)
    consumers.start()
    await eventually(lambda: _is_set(consumers))
    return consumers


async def _is_set(consumers: JasminConsumers) -> bool:
    return consumers.ready.is_set()


async def balance(service: ChargingService, account: str) -> int:
    view = await service.account(account)
    assert view is not None
    return view.balance


async def queue_depth(url: str, name: str) -> int:
    connection = await aio_pika.connect(url)
    try:
        channel = await connection.channel()
        queue = await channel.declare_queue(name, passive=True)
        return int(queue.declaration_result.message_count or 0)
    finally:
        await connection.close()


async def test_submit_results_and_dlrs_exactly_once(sms: SmsService, service: ChargingService,
                                                    new_account: NewAccount,
                                                    amqp: tuple[SmsConfig, Jasmin]) -> None:
    config, jasmin = amqp
    account = await new_account(100)
    await sms.set_account(account, refund_on_failure=True)
    dispatch = (await sms.create_dispatch(account, "campaign"))["dispatch_id"]
    ok, throttled, undelivered = mid(), mid(), mid()
    for m in (ok, throttled, undelivered):
        await sms.charge(ChargeRequest(account, m, "254712345678", dispatch_id=dispatch))
    assert await balance(service, account) == 91
    consumers = await started(sms, config)
    try:
        for _ in range(2):  # every event twice: the second changes nothing
            await jasmin.submit_sm_resp(ok, "ESME_ROK", "0A1B")
            await jasmin.submit_sm_resp(throttled, "ESME_RTHROTTLED")
            await jasmin.submit_sm_resp(undelivered, "ESME_ROK")
            # Jasmin's own DLR content for the receipt: body = stat, message-id = the SMSC's id
            await jasmin.publish("messaging", "dlr.deliver_sm", b"DELIVRD", message_id="0A1B",
                                 headers={"type": "deliver_sm", "cid": "smsc-ke", "dlr_stat": "DELIVRD"})
            await jasmin.dlr(undelivered, "UNDELIV")

        async def settled() -> bool:
            records = [await sms.message(m) for m in (ok, throttled, undelivered)]
            return [(r["submit"], r["delivery"]) for r in records] == [
                ("accepted", "delivered"), ("failed", None), ("accepted", "failed")]

        await eventually(settled)
        await eventually(lambda: _empty(config))
    finally:
        await consumers.stop()
    assert await balance(service, account) == 97  # throttled and undelivered refunded, once each
    refunds = [(e.amount, e.ref) for e in await service.ledger(account) if e.kind == "sms_refund"]
    assert sorted(refunds) == sorted([(3, throttled + ":refund"), (3, undelivered + ":refund")])
    d = await sms.dispatch(dispatch)
    assert (d["sent"], d["delivered"], d["failed"], d["pending"], d["cost"]) == (3, 1, 2, 0, 3)


async def _empty(config: SmsConfig) -> bool:
    return await queue_depth(AMQP_URL, config.submit_queue) == 0 and await queue_depth(AMQP_URL, config.dlr_queue) == 0


async def test_malformed_and_pickled_events_are_dead_lettered(sms: SmsService,
                                                              amqp: tuple[SmsConfig, Jasmin]) -> None:
    config, jasmin = amqp
    consumers = await started(sms, config)
    try:
        await jasmin.publish("billing", "bill_request.submit_sm_resp.u1", b"{not json", content_type="application/json")
        await jasmin.publish("messaging", "dlr.deliver_sm", pickle.dumps({"status": "DELIVRD"}), message_id="x")
        await jasmin.publish("messaging", "dlr.deliver_sm", b'{"message_id": "m", "status": "WHATEVER"}')

        async def dead_lettered() -> bool:
            return (await queue_depth(AMQP_URL, config.submit_queue + ".dlq") == 1
                    and await queue_depth(AMQP_URL, config.dlr_queue + ".dlq") == 2)

        await eventually(dead_lettered)
        assert await queue_depth(AMQP_URL, config.submit_queue) == 0  # not requeued forever
    finally:
        await consumers.stop()


async def test_clean_stop_finishes_in_flight(sms: SmsService, new_account: NewAccount,
                                             amqp: tuple[SmsConfig, Jasmin]) -> None:
    config, jasmin = amqp
    account = await new_account(1000)
    ids = [mid() for _ in range(40)]
    for m in ids:
        await sms.charge(ChargeRequest(account, m, "254712345678"))
    consumers = await started(sms, config)
    for m in ids:
        await jasmin.submit_sm_resp(m, "ESME_ROK")
    await eventually(lambda: _any_accepted(sms, ids))
    await consumers.stop()
    accepted = [(await sms.message(m))["submit"] == "accepted" for m in ids]
    left = await queue_depth(AMQP_URL, config.submit_queue)
    assert accepted.count(True) + left == len(ids)  # each event processed and acked, or still queued: none lost


async def _any_accepted(sms: SmsService, ids: list[str]) -> bool:
    return (await sms.message(ids[0]))["submit"] == "accepted"


async def test_survives_a_rabbitmq_restart(sms: SmsService, service: ChargingService, new_account: NewAccount) -> None:
    node = PrivateNode()
    node.start()
    try:
        config = unique_config(node.url)
        account = await new_account(100)
        before, meanwhile, after = mid(), mid(), mid()
        for m in (before, meanwhile, after):
            await sms.charge(ChargeRequest(account, m, "254712345678"))
        consumers = await started(sms, config)
        connection = await aio_pika.connect(node.url)
        await Jasmin(connection, config).submit_sm_resp(before, "ESME_RTHROTTLED")
        await eventually(lambda: _submit_is(sms, before, "failed"))
        await connection.close()
        node.stop()
        node.start()
        # published while our consumer is still reconnecting, straight into its durable queue
        connection = await aio_pika.connect(node.url)
        channel = await connection.channel()
        await channel.default_exchange.publish(
            aio_pika.Message(b'{"message_id": "%s", "status": "ESME_RTHROTTLED"}' % meanwhile.encode(),
                             content_type="application/json", delivery_mode=aio_pika.DeliveryMode.PERSISTENT),
            routing_key=config.submit_queue)
        await eventually(lambda: _submit_is(sms, meanwhile, "failed"), timeout=30)
        await Jasmin(connection, config).submit_sm_resp(after, "ESME_ROK")  # through the re-declared binding
        await eventually(lambda: _submit_is(sms, after, "accepted"), timeout=30)
        await connection.close()
        await consumers.stop()
        assert await balance(service, account) == 100 - 3
    finally:
        node.remove()


async def _submit_is(sms: SmsService, message_id: str, state: str) -> bool:
    return (await sms.message(message_id))["submit"] == state


async def test_store_outage_requeues_and_loses_nothing(pg_pool, redis_prefix: str, redis_store,  # type: ignore[no-untyped-def]
                                                       new_account: NewAccount, service: ChargingService,
                                                       amqp: tuple[SmsConfig, Jasmin]) -> None:
    from urllib.parse import urlsplit

    from ocs.sms import metrics
    from ocs.sms.pricing import SmsTariff
    from ocs.store.redis_client import RedisStore
    from tests.integration.conftest import REDIS_URL
    from tests.support.tcp_proxy import TcpProxy

    config, jasmin = amqp
    target = urlsplit(REDIS_URL)
    proxy = TcpProxy(target.hostname or "127.0.0.1", target.port or 6379)
    proxy.start()
    store = RedisStore(f"redis://127.0.0.1:{proxy.port}{target.path}", redis_prefix)
    await store.start()
    try:
        sms = SmsService(store, pg_pool, config)
        await sms.set_tariff(SmsTariff("std", "prefix", "254", 0, 3, "EUR"))
        account = await new_account(100)
        ids = [mid() for _ in range(5)]
        for m in ids:
            await sms.charge(ChargeRequest(account, m, "254712345678"))
        consumers = JasminConsumers(sms, config, store_timeout=0.3)
        consumers.start()
        await eventually(lambda: _is_set(consumers))
        requeued = metrics.events_total._counts.get((config.submit_queue, "requeued"), 0)
        proxy.cut()  # Redis unreachable for the consumer
        for m in ids:
            await jasmin.submit_sm_resp(m, "ESME_RTHROTTLED")

        async def requeueing() -> bool:
            return metrics.events_total._counts.get((config.submit_queue, "requeued"), 0) > requeued

        await eventually(requeueing)
        proxy.restore()

        reader = SmsService(redis_store, pg_pool, config)  # reads over a connection that was never cut

        async def all_refunded() -> bool:
            return all([(await reader.message(m))["submit"] == "failed" for m in ids])

        await eventually(all_refunded, timeout=30)
        await consumers.stop()
        assert await balance(service, account) == 100
        assert await queue_depth(AMQP_URL, config.submit_queue + ".dlq") == 0
    finally:
        await store.close()
        proxy.stop()
