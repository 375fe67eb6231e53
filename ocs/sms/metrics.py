"""Prometheus metrics of SMS billing (issue 18 point 5), `ocsd_sms_*`, in the daemon's registry."""

from __future__ import annotations

from prometheus_client import Gauge

from ocs.metrics import REGISTRY, Counts

charges_total = Counts("ocsd_sms_charges_total", "SMS charge requests by channel (http, gy) and result "
                       "(charged, duplicate, or the refusal's code)", ("channel", "result"))
charged_minor_total = Counts("ocsd_sms_charged_minor_units_total", "Money taken for SMS (minor units)", ())
refunds_total = Counts("ocsd_sms_refunds_total", "SMS charges refunded, by the status that caused it "
                       "(ESME_* of a failed submit, UNDELIV/REJECTD under the refund policy)", ("status",))
refunded_minor_total = Counts("ocsd_sms_refunded_minor_units_total", "Money given back for SMS (minor units)", ())
deliveries_total = Counts("ocsd_sms_deliveries_total", "Delivery receipts applied to a message, by DLR status",
                          ("status",))
events_total = Counts("ocsd_sms_events_total", "Jasmin events consumed, by queue and outcome (applied, "
                      "duplicate, unknown_message, dead_lettered, requeued)", ("queue", "outcome"))
dead_lettered_total = Counts("ocsd_sms_dead_lettered_total", "Jasmin events sent to the dead-letter queue, by "
                             "queue and reason (malformed, pickle)", ("queue", "reason"))
for _c in (charges_total, charged_minor_total, refunds_total, refunded_minor_total, deliveries_total, events_total,
           dead_lettered_total):
    REGISTRY.register(_c)

consumer_lag_seconds = Gauge("ocsd_sms_consumer_lag_seconds", "Age of the last Jasmin event consumed (now minus "
                             "its AMQP timestamp or Jasmin's created_at header), by queue", ("queue",),
                             registry=REGISTRY)
consumer_connected = Gauge("ocsd_sms_consumer_connected", "1 while the Jasmin consumers hold a RabbitMQ "
                           "connection", registry=REGISTRY)
in_flight = Gauge("ocsd_sms_events_in_flight", "Jasmin events being processed", registry=REGISTRY)

__all__ = ["charged_minor_total", "charges_total", "consumer_connected", "consumer_lag_seconds", "dead_lettered_total",
           "deliveries_total", "events_total", "in_flight", "refunded_minor_total", "refunds_total"]
