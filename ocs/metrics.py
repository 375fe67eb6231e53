"""Prometheus metrics, in one registry of our own (no process/platform collectors of the default one).

Served as text on the admin port at GET /metrics. Label values are bounded sets: application and command
names from the registry, result codes, peer states and event names.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, generate_latest
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

REGISTRY = CollectorRegistry(auto_describe=True)
C = TypeVar("C", bound=Collector)

# 100 µs … 1 s: the hot path is a decode, one Redis round trip and an encode
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)



class Counts(Collector):
    """A counter by label values for the hot path: a dict increment per event, the Prometheus family built only
    when /metrics is scraped. (prometheus_client's Counter takes a lock and looks the child up on every call;
    ocsd is one event loop, so a scrape and an update never run at once.)"""

    def __init__(self, name: str, documentation: str, labelnames: tuple[str, ...]) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, labelnames
        self._counts: dict[tuple[str, ...], int] = {}

    def inc(self, labels: tuple[str, ...], n: int = 1) -> None:
        counts = self._counts
        counts[labels] = counts.get(labels, 0) + n

    def collect(self) -> Iterator[Metric]:
        family = CounterMetricFamily(self.name.removesuffix("_total"), self.documentation, labels=self.labelnames)
        for labels, n in self._counts.items():
            family.add_metric(labels, n)
        yield family


class Latency(Collector):
    """A histogram by label values for the hot path: one bisect and two list updates per observation."""

    def __init__(self, name: str, documentation: str, labelnames: tuple[str, ...],
                 buckets: tuple[float, ...] = LATENCY_BUCKETS) -> None:
        self.name, self.documentation, self.labelnames = name, documentation, labelnames
        self._bounds = list(buckets)
        self._bucket_labels = [floatToGoString(b) for b in buckets] + ["+Inf"]
        self._series: dict[tuple[str, ...], list[float]] = {}  # a count per bucket (+Inf last), then the sum

    def observe(self, labels: tuple[str, ...], seconds: float) -> None:
        h = self._series.get(labels)
        if h is None:
            h = self._series[labels] = [0.0] * (len(self._bounds) + 2)
        h[bisect_left(self._bounds, seconds)] += 1  # the first bucket whose bound is >= seconds ("le")
        h[-1] += seconds

    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(self.name, self.documentation, labels=self.labelnames)
        for labels, h in self._series.items():
            buckets: list[tuple[str, float]] = []
            total = 0.0
            for label, count in zip(self._bucket_labels, h[:-1], strict=True):
                total += count
                buckets.append((label, total))
            family.add_metric(labels, buckets, sum_value=h[-1])
        yield family


def _registered(collector: C) -> C:
    REGISTRY.register(collector)
    return collector


diameter_requests_total = _registered(Counts(
    "diameter_requests_total", "Diameter requests answered, by application, command and Result-Code",
    ("application", "command", "result_code")))

diameter_request_seconds = _registered(Latency(
    "diameter_request_seconds", "Time from a request's arrival to its answer being written",
    ("application", "command")))

diameter_peers = Gauge(
    "diameter_peers", "Configured Diameter peers by RFC 6733 peer state", ("state",), registry=REGISTRY)

diameter_peer_events_total = Counter(
    "diameter_peer_events_total", "Peer events: up, down, watchdog failures, elections, refusals",
    ("event",), registry=REGISTRY)

diameter_framing_errors_total = Counter(
    "diameter_framing_errors_total", "Connections closed because their byte stream was not Diameter",
    registry=REGISTRY)

diameter_write_buffer_bytes = Gauge(
    "diameter_write_buffer_bytes", "Octets of answers and requests written to peers and not yet sent (the sum of "
    "every connection's write buffer; bounded by write backpressure)", registry=REGISTRY)

diameter_read_pauses_total = Counter(
    "diameter_read_pauses_total", "Times a connection stopped being read because its peer did not read "
    "(its write buffer passed diameter.write_buffer_high)", registry=REGISTRY)

s6a_requests_total = _registered(Counts(
    "s6a_requests_total", "S6a requests answered by the HSS, by command (AIR, ULR, PUR) and outcome",
    ("command", "result")))

auc_vector_seconds = _registered(Latency(
    "auc_vector_seconds", "Time to hand out SQNs and make the vectors of one AIR (Redis call included)", ()))

ledger_entries_written_total = Counter(
    "ledger_entries_written_total", "Ledger entries moved from Redis into PostgreSQL (retries included)",
    registry=REGISTRY)

ledger_write_failures_total = Counter(
    "ledger_write_failures_total", "Ledger writer batches that PostgreSQL refused or did not answer",
    registry=REGISTRY)

housekeeping_runs_total = Counter(
    "housekeeping_runs_total", "Passes of the background jobs (reap, expire), by outcome", ("job", "result"),
    registry=REGISTRY)

gy_requests_total = _registered(Counts(
    "ocsd_gy_requests_total", "Gy credit-control requests answered, by CC-Request-Type and Result-Code",
    ("type", "result")))

gy_server_requests_total = _registered(Counts(
    "ocsd_gy_server_requests_total", "RAR and ASR sent to Gy peers, by command and the answer's Result-Code "
    "(or timeout)", ("command", "result")))

gy_units_total = _registered(Counts(
    "ocsd_gy_units_total", "Gy units by unit (octets, seconds, events) and kind: granted, or used as reported",
    ("unit", "kind")))

gy_charged_total = _registered(Counts(
    "ocsd_gy_charged_total", "Money taken from balances by Gy (minor units), by the unit of the rating group",
    ("unit",)))

gy_sessions = Gauge("ocsd_gy_sessions", "Live Gy sessions (all processes sharing Redis; counted by the reaper)",
                    registry=REGISTRY)


def render() -> bytes:
    """The registry in the Prometheus text exposition format."""
    return generate_latest(REGISTRY)


__all__ = [
    "LATENCY_BUCKETS", "REGISTRY", "Counts", "Latency", "diameter_framing_errors_total", "diameter_peer_events_total",
    "diameter_read_pauses_total", "diameter_write_buffer_bytes",
    "diameter_peers", "diameter_request_seconds", "diameter_requests_total", "render", "auc_vector_seconds",
    "housekeeping_runs_total", "ledger_entries_written_total", "ledger_write_failures_total", "s6a_requests_total",
    "gy_charged_total", "gy_requests_total", "gy_server_requests_total", "gy_sessions", "gy_units_total",
]
