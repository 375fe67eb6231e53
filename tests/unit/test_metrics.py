"""The hot-path metric collectors: plain counts per event, Prometheus families at scrape time."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from ocs.metrics import Counts, Latency

Samples = dict[str, dict[tuple[tuple[str, str], ...], float]]


def scrape(*collectors: Collector) -> tuple[str, Samples]:
    registry = CollectorRegistry()
    for c in collectors:
        registry.register(c)
    text = generate_latest(registry).decode()
    out: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            out.setdefault(sample.name, {})[tuple(sorted(sample.labels.items()))] = sample.value
    return text, out


def test_counts_by_labels():
    requests = Counts("ocsd_diameter_requests_total", "requests", ("application", "command", "result_code"))
    for _ in range(4):
        requests.inc(("gy", "CCR", "2001"))
    requests.inc(("gy", "CCR", "4012"))
    requests.inc(("s6a", "AIR", "2001"))
    text, s = scrape(requests)
    assert "# TYPE ocsd_diameter_requests_total counter" in text
    assert s["ocsd_diameter_requests_total"] == {
        (("application", "gy"), ("command", "CCR"), ("result_code", "2001")): 4,
        (("application", "gy"), ("command", "CCR"), ("result_code", "4012")): 1,
        (("application", "s6a"), ("command", "AIR"), ("result_code", "2001")): 1,
    }


def test_latency_has_cumulative_le_buckets():
    latency = Latency("ocsd_diameter_request_seconds", "latency", ("application", "command"),
                      buckets=(0.001, 0.01, 0.1))
    for seconds in (0.0005, 0.001, 0.002, 0.05, 0.5):
        latency.observe(("gy", "CCR"), seconds)
    latency.observe(("s6a", "AIR"), 0.02)
    text, s = scrape(latency)
    assert "# TYPE ocsd_diameter_request_seconds histogram" in text
    gy = (("application", "gy"), ("command", "CCR"))
    buckets = {dict(k)["le"]: v for k, v in s["ocsd_diameter_request_seconds_bucket"].items()
               if dict(k)["application"] == "gy"}
    assert buckets == {"0.001": 2, "0.01": 3, "0.1": 4, "+Inf": 5}   # le: 0.001 itself is in the first bucket
    assert s["ocsd_diameter_request_seconds_count"][gy] == 5
    assert abs(s["ocsd_diameter_request_seconds_sum"][gy] - 0.5535) < 1e-9


def test_families_are_typed_before_any_event():
    text, _ = scrape(Counts("x_total", "x", ("a",)), Latency("y_seconds", "y", ()))
    assert "# TYPE x_total counter" in text and "# TYPE y_seconds histogram" in text


def test_grafana_dashboard_uses_only_metrics_ocsd_exports():
    """conf/grafana/ocsd.json is valid JSON and every metric its queries name is one ocsd registers."""
    import json
    import re
    from pathlib import Path

    from ocs import metrics

    dashboard = json.loads((Path(__file__).parents[2] / "conf" / "grafana" / "ocsd.json").read_text())
    exported: set[str] = set()
    for family in metrics.REGISTRY.collect():
        exported |= {family.name, f"{family.name}_total", f"{family.name}_info", f"{family.name}_bucket"}
    used = {m for panel in dashboard["panels"] for t in panel["targets"]
            for m in re.findall(r"\b(ocsd_[a-z0-9_]+)", t["expr"])}
    assert len(used) >= 10
    assert used <= exported, used - exported


def test_peer_states_has_a_series_per_configured_peer_and_state():
    from ocs.metrics import PEER_STATES, PeerStates

    collector = PeerStates()
    collector.source = lambda: {"mme.test": "Closed", "pgw.test": "I-Open"}
    _, s = scrape(collector)
    states = s["ocsd_diameter_peer_state"]
    assert len(states) == 2 * len(PEER_STATES)
    assert states[(("peer", "pgw.test"), ("state", "I-Open"))] == 1
    assert sum(v for k, v in states.items() if dict(k)["peer"] == "pgw.test") == 1
    assert s["ocsd_diameter_peer_up"] == {(("peer", "mme.test"),): 0, (("peer", "pgw.test"),): 1}
