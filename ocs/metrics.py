"""Prometheus metrics, in one registry of our own (no process/platform collectors of the default one).

Served as text on the admin port at GET /metrics. Label values are bounded sets: application and command
names from the registry, result codes, peer states and event names.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

REGISTRY = CollectorRegistry(auto_describe=True)

# 100 µs … 1 s: the hot path is a decode, one Redis round trip and an encode
LATENCY_BUCKETS = (0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)

diameter_requests_total = Counter(
    "diameter_requests_total", "Diameter requests answered, by application, command and Result-Code",
    ("application", "command", "result_code"), registry=REGISTRY)

diameter_request_seconds = Histogram(
    "diameter_request_seconds", "Time from a request's arrival to its answer being written",
    ("application", "command"), buckets=LATENCY_BUCKETS, registry=REGISTRY)

diameter_peers = Gauge(
    "diameter_peers", "Configured Diameter peers by RFC 6733 peer state", ("state",), registry=REGISTRY)

diameter_peer_events_total = Counter(
    "diameter_peer_events_total", "Peer events: up, down, watchdog failures, elections, refusals",
    ("event",), registry=REGISTRY)

diameter_framing_errors_total = Counter(
    "diameter_framing_errors_total", "Connections closed because their byte stream was not Diameter",
    registry=REGISTRY)

s6a_requests_total = Counter(
    "s6a_requests_total", "S6a requests answered by the HSS, by command (AIR, ULR, PUR) and outcome",
    ("command", "result"), registry=REGISTRY)

auc_vector_seconds = Histogram(
    "auc_vector_seconds", "Time to hand out SQNs and make the vectors of one AIR (Redis call included)",
    buckets=LATENCY_BUCKETS, registry=REGISTRY)

ledger_entries_written_total = Counter(
    "ledger_entries_written_total", "Ledger entries moved from Redis into PostgreSQL (retries included)",
    registry=REGISTRY)

ledger_write_failures_total = Counter(
    "ledger_write_failures_total", "Ledger writer batches that PostgreSQL refused or did not answer",
    registry=REGISTRY)

housekeeping_runs_total = Counter(
    "housekeeping_runs_total", "Passes of the background jobs (reap, expire), by outcome", ("job", "result"),
    registry=REGISTRY)


def render() -> bytes:
    """The registry in the Prometheus text exposition format."""
    return generate_latest(REGISTRY)


__all__ = [
    "LATENCY_BUCKETS", "REGISTRY", "diameter_framing_errors_total", "diameter_peer_events_total",
    "diameter_peers", "diameter_request_seconds", "diameter_requests_total", "render", "auc_vector_seconds",
    "housekeeping_runs_total", "ledger_entries_written_total", "ledger_write_failures_total", "s6a_requests_total",
]
