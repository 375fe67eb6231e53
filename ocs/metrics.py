"""Prometheus metrics, in one registry of our own (no process/platform collectors of the default one).

Served as text on the admin port at GET /metrics. Every name starts with `ocsd_` (Prometheus naming
conventions: a prefix per exporter, base units, `_total` for counters). Label values are bounded sets:
application and command names from the registry, result codes as numbers with their vendor (0: RFC 6733's
Result-Code, else the Vendor-Id of the Experimental-Result), configured peers, peer states and event names.
The hot-path metrics are plain counts collected at scrape time (`Counts`, `Latency`); the per-peer gauges read
the node when scraped (`PeerStates`), so every configured peer has its series from start-up.
"""

from __future__ import annotations

import platform
from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import TypeVar

from prometheus_client import CollectorRegistry, Counter, Gauge, Info, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from ocs import __version__

REGISTRY = CollectorRegistry(auto_describe=True)
C = TypeVar("C", bound=Collector)

# 100 µs … 1 s: the hot path is a decode, one Redis round trip and an encode
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
# RFC 6733 §5.6 peer states, as ocs.diameter.peer.State spells them
PEER_STATES = ("Closed", "Wait-Conn-Ack", "Wait-I-CEA", "Wait-Conn-Ack/Elect", "Wait-Returns", "R-Open", "I-Open",
               "Closing")


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


class PeerStates(Collector):
    """`ocsd_diameter_peer_state{peer,state}` (1 for the peer's current state, 0 for the others: the enum-as-
    gauges convention) and `ocsd_diameter_peer_up{peer}`, read from `source` (peer -> state name) when scraped;
    the transport sets `source` to its node, so every configured peer is there from start-up."""

    def __init__(self) -> None:
        self.source: Callable[[], dict[str, str]] | None = None

    def collect(self) -> Iterator[Metric]:
        states = self.source() if self.source is not None else {}
        state = GaugeMetricFamily("ocsd_diameter_peer_state", "Each configured Diameter peer's RFC 6733 state "
                                  "(1: the current one)", labels=("peer", "state"))
        up = GaugeMetricFamily("ocsd_diameter_peer_up", "1 when the peer's connection is open (I-Open or R-Open)",
                               labels=("peer",))
        for peer, current in sorted(states.items()):
            for name in PEER_STATES:
                state.add_metric((peer, name), 1.0 if name == current else 0.0)
            up.add_metric((peer,), 1.0 if current in ("I-Open", "R-Open") else 0.0)
        yield state
        yield up


def _registered(collector: C) -> C:
    REGISTRY.register(collector)
    return collector


diameter_requests_total = _registered(Counts(
    "ocsd_diameter_requests_total", "Diameter requests answered, by application, command and result code (the "
    "Result-Code, or the Experimental-Result-Code with its vendor)",
    ("application", "command", "result_code", "vendor")))

diameter_request_seconds = _registered(Latency(
    "ocsd_diameter_request_seconds", "Time from a request's arrival to its answer being written",
    ("application", "command")))

diameter_peers = Gauge(
    "ocsd_diameter_peers", "Configured Diameter peers by RFC 6733 peer state", ("state",), registry=REGISTRY)

diameter_peer_events_total = Counter(
    "ocsd_diameter_peer_events_total", "Peer events: up, down, watchdog failures, elections, refusals",
    ("event",), registry=REGISTRY)

diameter_framing_errors_total = Counter(
    "ocsd_diameter_framing_errors_total", "Connections closed because their byte stream was not Diameter",
    registry=REGISTRY)

diameter_write_buffer_bytes = Gauge(
    "ocsd_diameter_write_buffer_bytes", "Octets of answers and requests written to peers and not yet sent (the sum "
    "of every connection's write buffer; bounded by write backpressure)", registry=REGISTRY)

diameter_read_pauses_total = Counter(
    "ocsd_diameter_read_pauses_total", "Times a connection stopped being read because its peer did not read "
    "(its write buffer passed diameter.write_buffer_high)", registry=REGISTRY)

s6a_requests_total = _registered(Counts(
    "ocsd_s6a_requests_total", "S6a requests answered by the HSS, by command (AIR, ULR, PUR) and outcome",
    ("command", "result")))

auc_vector_seconds = _registered(Latency(
    "ocsd_auc_vector_seconds", "Time to hand out SQNs and make the vectors of one AIR (Redis call included)", ()))

ledger_entries_written_total = Counter(
    "ocsd_ledger_entries_written_total", "Ledger entries moved from Redis into PostgreSQL (retries included)",
    registry=REGISTRY)

ledger_write_failures_total = Counter(
    "ocsd_ledger_write_failures_total", "Ledger writer batches that PostgreSQL refused or did not answer",
    registry=REGISTRY)

housekeeping_runs_total = Counter(
    "ocsd_housekeeping_runs_total", "Passes of the background jobs (reap, expire), by outcome", ("job", "result"),
    registry=REGISTRY)

gy_requests_total = _registered(Counts(
    "ocsd_gy_requests_total", "Gy credit-control requests answered, by CC-Request-Type and Result-Code",
    ("type", "result")))

gy_server_requests_total = _registered(Counts(
    "ocsd_gy_server_requests_total", "RAR and ASR sent to Gy peers, by command and the answer's Result-Code "
    "(or timeout)", ("command", "result")))

gx_rar_total = _registered(Counts(
    "ocsd_gx_rar_total", "Gx RARs sent to PCEFs (fair use, plan changes), by reason and the RAA's Result-Code "
    "(or timeout)", ("reason", "result")))

gy_units_total = _registered(Counts(
    "ocsd_gy_units_total", "Gy units by unit (octets, seconds, events) and kind: granted, or used as reported",
    ("unit", "kind")))

gy_charged_total = _registered(Counts(
    "ocsd_gy_charged_total", "Money taken from balances by Gy (minor units), by the unit of the rating group",
    ("unit",)))

gy_sessions = Gauge("ocsd_gy_sessions", "Live Gy sessions (all processes sharing Redis; counted by the reaper)",
                    registry=REGISTRY)

radius_requests_total = _registered(Counts(
    "ocsd_radius_requests_total", "RADIUS requests handled, by client name, packet type and outcome "
    "(the reply's type, or dropped)", ("client", "type", "outcome")))

radius_drops_total = _registered(Counts(
    "ocsd_radius_drops_total", "RADIUS datagrams discarded without a reply, by reason", ("reason",)))

radius_sessions = Gauge(
    "ocsd_radius_sessions", "Hotspot sessions online (as last counted by the session reaper)", registry=REGISTRY)

radius_dynauth_total = _registered(Counts(
    "ocsd_radius_dynauth_total", "Disconnect and CoA requests sent, by type and outcome (ack, nak, timeout)",
    ("type", "outcome")))


# Mobile money (issue 17): every request path of ocs.payments, ocs.admin.api_payments and ocs.portal.
mpesa_requests_total = _registered(Counts(
    "ocsd_mpesa_requests_total", "Requests ocsd sent to M-Pesa Daraja, by operation (oauth, stk_push, stk_query) "
    "and HTTP status (or unreachable)", ("op", "status")))

payment_hooks_total = _registered(Counts(
    "ocsd_payment_hooks_total", "Payment notices received (STK callbacks, C2B validation/confirmation, signed "
    "webhooks), by hook and outcome", ("hook", "outcome")))

payments_total = _registered(Counts(
    "ocsd_payments_total", "Payments reaching a final state or refused, by provider and status (applied, failed, "
    "mismatch, refused)", ("provider", "status")))

portal_requests_total = _registered(Counts(
    "ocsd_portal_requests_total", "Captive portal requests, by page or API and outcome", ("path", "outcome")))

notifications_total = _registered(Counts(
    "ocsd_notifications_total", "Notifications sent, by kind and outcome (sent, failed)", ("kind", "outcome")))


build_info = Info("ocsd_build", "The running ocsd: version and Python", registry=REGISTRY)  # ocsd_build_info
build_info.info({"version": __version__, "python": platform.python_version()})

peer_states = _registered(PeerStates())

ledger_lag_seconds = Gauge(
    "ocsd_ledger_lag_seconds", "Age of the oldest ledger entry the writer has read from Redis and PostgreSQL "
    "has not confirmed yet (0: nothing waiting)", registry=REGISTRY)

store_call_seconds = _registered(Latency(
    "ocsd_store_call_seconds", "Time of one Redis or PostgreSQL call on the request path (failures included)",
    ("store",)))

# issue 19: several processes
lease_held = Gauge("ocsd_lease_held", "1 while this process holds the lease (ledger writer and housekeeping)",
                   ("lease",), registry=REGISTRY)
lease_changes_total = Counter("ocsd_lease_changes_total", "Leases taken and lost by this process",
                              ("lease", "change"), registry=REGISTRY)
forwarded_requests_total = Counter(
    "ocsd_forwarded_requests_total", "Requests of ours sent through another process holding the peer, by outcome "
    "(answered, refused, timeout)", ("outcome",), registry=REGISTRY)
worker_info = Gauge("ocsd_worker", "This process's worker number (0: a single process)", registry=REGISTRY)


def render() -> bytes:
    """The registry in the Prometheus text exposition format."""
    return generate_latest(REGISTRY)


__all__ = [
    "LATENCY_BUCKETS", "PEER_STATES", "REGISTRY", "Counts", "Latency", "PeerStates", "auc_vector_seconds",
    "build_info", "diameter_framing_errors_total", "diameter_peer_events_total", "diameter_peers",
    "diameter_read_pauses_total", "diameter_request_seconds", "diameter_requests_total", "diameter_write_buffer_bytes",
    "housekeeping_runs_total", "ledger_entries_written_total", "ledger_lag_seconds", "ledger_write_failures_total",
    "peer_states", "render", "s6a_requests_total", "store_call_seconds",
    "radius_drops_total", "radius_dynauth_total", "radius_requests_total", "radius_sessions",
    "gx_rar_total", "gy_charged_total", "gy_requests_total", "gy_server_requests_total", "gy_sessions",
    "gy_units_total",
    "mpesa_requests_total", "notifications_total", "payment_hooks_total", "payments_total", "portal_requests_total",
    "gy_units_total", "lease_changes_total", "lease_held", "worker_info",
    "forwarded_requests_total",
]
