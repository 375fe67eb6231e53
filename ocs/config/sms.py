"""The `[sms]` section: SMS billing with the Jasmin SMS gateway over RabbitMQ (issue 18).

Pure: no I/O. Every key is documented with its default in conf/ocsd.example.toml.
"""

from __future__ import annotations

from dataclasses import dataclass

from ocs.config.table import ConfigError, Table


@dataclass(frozen=True, slots=True)
class SmsConfig:
    # Run the Jasmin event consumers in the daemon (needs amqp_url). Charging over HTTP/Gy works without them.
    enabled: bool = False
    # RabbitMQ that Jasmin publishes to, e.g. "amqp://guest:guest@127.0.0.1:5672/%2F" (never logged).
    amqp_url: str | None = None
    # Jasmin's exchanges (topic) and the queues ocsd declares and binds on them.
    billing_exchange: str = "billing"
    messaging_exchange: str = "messaging"
    submit_queue: str = "billing_service.submit_sm_resp"
    dlr_queue: str = "billing_service.dlr"
    # Dead letters (malformed events, pickles) go to "<queue>.dlq" through this exchange (direct).
    dead_letter_exchange: str = "billing_service.dlx"
    # AMQP basic.qos prefetch per consumer: events in flight at once.
    prefetch: int = 200
    # Queue bounds (RabbitMQ x-message-ttl, x-max-length): an event older or past the length is dead-lettered.
    queue_ttl: int = 86400
    queue_max_length: int = 1_000_000
    # Seconds between reconnection attempts (aio-pika's robust connection) and before requeueing an event
    # that met a store outage.
    reconnect_interval: float = 2.0
    requeue_delay: float = 1.0
    # Tariff plan of accounts without one of their own (ocsd sms account set --plan).
    default_plan: str = "default"
    # Messages per second per account (token bucket in Redis) and the burst; 0 = no limit.
    rate_limit: int = 50
    rate_burst: int = 100
    # Seconds a message's record is kept in Redis (its charge is exactly once within this time).
    record_ttl: int = 30 * 86400


def parse_sms(t: Table) -> SmsConfig:
    d = SmsConfig()
    sms = SmsConfig(
        enabled=t.boolean("enabled", d.enabled),
        amqp_url=t.optional_str("amqp_url"),
        billing_exchange=t.string("billing_exchange", d.billing_exchange),
        messaging_exchange=t.string("messaging_exchange", d.messaging_exchange),
        submit_queue=t.string("submit_queue", d.submit_queue),
        dlr_queue=t.string("dlr_queue", d.dlr_queue),
        dead_letter_exchange=t.string("dead_letter_exchange", d.dead_letter_exchange),
        prefetch=t.integer("prefetch", d.prefetch, minimum=1),
        queue_ttl=t.integer("queue_ttl", d.queue_ttl, minimum=1),
        queue_max_length=t.integer("queue_max_length", d.queue_max_length, minimum=1),
        reconnect_interval=t.number("reconnect_interval", d.reconnect_interval, minimum=0.1),
        requeue_delay=t.number("requeue_delay", d.requeue_delay, minimum=0.0),
        default_plan=t.string("default_plan", d.default_plan),
        rate_limit=t.integer("rate_limit", d.rate_limit, minimum=0),
        rate_burst=t.integer("rate_burst", d.rate_burst, minimum=1),
        record_ttl=t.integer("record_ttl", d.record_ttl, minimum=60),
    )
    if sms.enabled and not sms.amqp_url:
        raise ConfigError(f"{t.key('amqp_url')}: is required when enabled is true")
    t.finish()
    return sms
