"""The Jasmin event consumers (issue 18 point 3): RabbitMQ at the edge, with aio-pika's robust connection.

Topology, declared (idempotently) at every (re)connection:
  exchange `billing` (topic)   -> queue `billing_service.submit_sm_resp` bound to `bill_request.submit_sm_resp.#`
  exchange `messaging` (topic) -> queue `billing_service.dlr` bound to `dlr.#`
  exchange `billing_service.dlx` (direct) -> `<queue>.dlq`, each queue's dead letters (routing key <queue>.dlq)
The exchanges are declared as Jasmin declares them (topic, not durable: jasmin/routing/router.py); our queues
are durable with x-message-ttl, x-max-length and x-dead-letter-exchange (RabbitMQ docs "Dead Letter Exchanges":
a rejected message with requeue=false, an expired one and one dropped by max-length go to the DLX).

Per message: decode (ocs.sms.events, pure) -> one service call (Redis) -> ack. Malformed JSON, unknown shapes
and Jasmin pickles are rejected without requeue (dead-lettered, counted, one log line); a store outage waits
`requeue_delay` and requeues (nothing is lost); an event for a message ocsd never charged is acknowledged and
counted. basic.qos prefetch bounds the events in flight. A clean stop cancels the consumers, lets the events in
flight finish and acknowledges them, then closes the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aio_pika
import structlog
from aio_pika.abc import AbstractIncomingMessage, AbstractQueue, AbstractRobustConnection

from ocs.config.sms import SmsConfig
from ocs.sms import metrics
from ocs.sms.events import DeliveryReport, Malformed, PickleRefused, SubmitResult, parse_dlr, parse_submit_sm_resp
from ocs.sms.service import Outcome, SmsService
from ocs.store.guard import StoreGuard
from ocs.subscribers.errors import StoreUnavailable

log = structlog.get_logger("ocs.sms.consumer")
SUBMIT_BINDING = "bill_request.submit_sm_resp.#"
DLR_BINDING = "dlr.#"
MAX_BACKOFF = 30.0


def _headers(message: AbstractIncomingMessage) -> dict[str, Any]:
    return {str(k): v for k, v in (message.headers or {}).items()}


def decode_submit(message: AbstractIncomingMessage) -> SubmitResult | DeliveryReport:
    return parse_submit_sm_resp(message.body, message.content_type, message.message_id, _headers(message))


def decode_dlr(message: AbstractIncomingMessage) -> SubmitResult | DeliveryReport:
    return parse_dlr(message.routing_key or "", message.body, message.content_type, message.message_id,
                     _headers(message))


def _lag(message: AbstractIncomingMessage) -> float | None:
    ts = message.timestamp
    if ts is None:
        created = _headers(message).get("created_at")  # Jasmin's PDU contents: str(datetime.now()), local time
        if isinstance(created, bytes):
            created = created.decode()
        if isinstance(created, str):
            with contextlib.suppress(ValueError):
                ts = datetime.datetime.fromisoformat(created)
    if ts is None:
        return None
    return max(0.0, time.time() - ts.timestamp())


class JasminConsumers:
    def __init__(self, service: SmsService, config: SmsConfig, *, store_timeout: float = 1.0) -> None:
        if not config.amqp_url:
            raise ValueError("[sms] amqp_url is required for the Jasmin consumers")
        self.service = service
        self.config = config
        self.guard = StoreGuard("redis", store_timeout)
        self.connection: AbstractRobustConnection | None = None
        self._consumers: list[tuple[AbstractQueue, str]] = []
        self._task: asyncio.Task[None] | None = None
        self._in_flight = 0
        self._idle = asyncio.Event()
        self._idle.set()
        self._stopping = False
        self.ready = asyncio.Event()  # set once the consumers are registered (tests and start-up wait on it)

    # ---- lifecycle
    def start(self) -> asyncio.Task[None]:
        self._task = asyncio.create_task(self._connect(), name="sms-consumers")
        return self._task

    async def _connect(self) -> None:
        """Connect, retrying with back-off while RabbitMQ is not there; aio-pika reconnects after that."""
        delay = self.config.reconnect_interval
        while not self._stopping:
            try:
                self.connection = await aio_pika.connect_robust(
                    self.config.amqp_url, reconnect_interval=self.config.reconnect_interval,
                    client_properties={"connection_name": "ocsd-sms"})
                break
            except (OSError, aio_pika.exceptions.AMQPError) as e:
                log.warning("sms-amqp-unavailable", error=type(e).__name__, retry_in=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, MAX_BACKOFF)
        if self.connection is None:
            return
        self.connection.reconnect_callbacks.add(self._reconnected)
        self.connection.close_callbacks.add(self._closed)
        metrics.consumer_connected.set(1)
        try:
            await self._consume(self.connection)
        except aio_pika.exceptions.AMQPError as e:
            # e.g. PRECONDITION_FAILED: an exchange or queue of these names exists with other arguments
            log.error("sms-consumers-failed", error=str(e), error_type=type(e).__name__,
                      hint="check the [sms] exchange and queue names against the broker's")

    async def _consume(self, connection: AbstractRobustConnection) -> None:
        channel = await connection.channel()
        await channel.set_qos(prefetch_count=self.config.prefetch)
        c = self.config
        submit = await self._declare(channel, c.billing_exchange, c.submit_queue, SUBMIT_BINDING)
        dlr = await self._declare(channel, c.messaging_exchange, c.dlr_queue, DLR_BINDING)
        for queue, decode in ((submit, decode_submit), (dlr, decode_dlr)):
            label = queue.name
            tag = await queue.consume(self._handler(label, decode))
            self._consumers.append((queue, tag))
        log.info("sms-consumers-started", queues=[submit.name, dlr.name], prefetch=c.prefetch)
        self.ready.set()

    async def _declare(self, channel: Any, exchange_name: str, queue_name: str, binding: str) -> AbstractQueue:
        c = self.config
        exchange = await channel.declare_exchange(exchange_name, aio_pika.ExchangeType.TOPIC, durable=False)
        dlx = await channel.declare_exchange(c.dead_letter_exchange, aio_pika.ExchangeType.DIRECT, durable=True)
        dlq = await channel.declare_queue(queue_name + ".dlq", durable=True)
        await dlq.bind(dlx, routing_key=queue_name + ".dlq")
        queue = await channel.declare_queue(queue_name, durable=True, arguments={
            "x-message-ttl": c.queue_ttl * 1000, "x-max-length": c.queue_max_length,
            "x-dead-letter-exchange": c.dead_letter_exchange, "x-dead-letter-routing-key": queue_name + ".dlq"})
        await queue.bind(exchange, routing_key=binding)
        return queue  # type: ignore[no-any-return]

    def _reconnected(self, *_: Any) -> None:
        metrics.consumer_connected.set(1)
        log.info("sms-amqp-reconnected")

    def _closed(self, *_: Any) -> None:
        metrics.consumer_connected.set(0)
        if not self._stopping:
            log.warning("sms-amqp-lost", retry_in=self.config.reconnect_interval)

    async def stop(self) -> None:
        """Stop taking events, finish the ones in flight (acknowledged), close the connection."""
        self._stopping = True
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for queue, tag in self._consumers:
            with contextlib.suppress(Exception):  # a connection already gone has no consumer to cancel
                await queue.cancel(tag)
        await self._idle.wait()
        if self.connection is not None:
            await self.connection.close()
        metrics.consumer_connected.set(0)
        log.info("sms-consumers-stopped")

    # ---- one message
    def _handler(self, queue: str, decode: Callable[[AbstractIncomingMessage], SubmitResult | DeliveryReport]
                 ) -> Callable[[AbstractIncomingMessage], Awaitable[None]]:
        async def on_message(message: AbstractIncomingMessage) -> None:
            self._in_flight += 1
            self._idle.clear()
            metrics.in_flight.inc()
            try:
                await self._process(queue, decode, message)
            finally:
                self._in_flight -= 1
                metrics.in_flight.dec()
                if self._in_flight == 0:
                    self._idle.set()
        return on_message

    async def _process(self, queue: str, decode: Callable[[AbstractIncomingMessage], SubmitResult | DeliveryReport],
                       message: AbstractIncomingMessage) -> None:
        lag = _lag(message)
        if lag is not None:
            metrics.consumer_lag_seconds.labels(queue).set(lag)
        try:
            event = decode(message)
        except PickleRefused:
            # never unpickle what the broker hands us (Python docs: pickle is not secure)
            log.warning("sms-event-refused", queue=queue, reason="pickle", message_id=message.message_id)
            await self._dead_letter(queue, "pickle", message)
            return
        except Malformed as e:
            log.warning("sms-event-malformed", queue=queue, error=str(e), message_id=message.message_id)
            await self._dead_letter(queue, "malformed", message)
            return
        try:
            outcome = await self.guard.call(self.apply, event)
        except StoreUnavailable:
            metrics.events_total.inc((queue, "requeued"))
            await asyncio.sleep(self.config.requeue_delay)  # back off before the broker hands it out again
            await message.nack(requeue=True)
            return
        except Exception as e:  # a bug or a refusal we cannot act on: keep the event for a human, not forever
            log.error("sms-event-failed", queue=queue, error=repr(e), message_id=message.message_id)
            await self._dead_letter(queue, "failed", message)
            return
        await message.ack()
        self._count(queue, event, outcome)

    async def apply(self, event: SubmitResult | DeliveryReport) -> Outcome:
        if isinstance(event, SubmitResult):
            return await self.service.submit_result(event)
        return await self.service.delivery(event)

    async def _dead_letter(self, queue: str, reason: str, message: AbstractIncomingMessage) -> None:
        metrics.dead_lettered_total.inc((queue, reason))
        metrics.events_total.inc((queue, "dead_lettered"))
        await message.reject(requeue=False)

    @staticmethod
    def _count(queue: str, event: SubmitResult | DeliveryReport, outcome: Outcome) -> None:
        if not outcome.found:
            metrics.events_total.inc((queue, "unknown_message"))
            return
        metrics.events_total.inc((queue, "applied" if outcome.changed else "duplicate"))
        if outcome.refunded:
            metrics.refunds_total.inc((event.status,))
            metrics.refunded_minor_total.inc((), outcome.refunded)
        if outcome.changed and isinstance(event, DeliveryReport):
            metrics.deliveries_total.inc((event.status,))


__all__ = ["DLR_BINDING", "SUBMIT_BINDING", "JasminConsumers", "decode_dlr", "decode_submit"]
