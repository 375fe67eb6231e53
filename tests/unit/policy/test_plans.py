"""Plan and rule values (issue 10 point 1): the rules file, the stored JSON round trip, the throttle rule."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ocs.policy.plans import (
    MAX_BPS,
    THROTTLE_RULE,
    Arp,
    ChargingRule,
    Plan,
    PlanError,
    billing_month,
    installed_rules,
    monitoring_grant,
    plan_from,
    plan_json,
    rules_from,
    throttle_rule,
)

EXAMPLE = Path(__file__).resolve().parents[3] / "conf" / "gx_rules.example.toml"


def test_example_rules_file_parses():
    rules = rules_from(tomllib.loads(EXAMPLE.read_text()))
    assert [r.name for r in rules] == ["voip", "zero-rated-portal"]
    voip = rules[0]
    assert voip.arp == Arp(2, "enabled", "disabled")
    assert (voip.gbr_ul, voip.rating_group, voip.online) == (64000, 20, True)
    assert rules[1].qci is None and rules[1].offline


@pytest.mark.parametrize(("doc", "word"), [
    ({"rule": [{"flows": []}]}, "name"),
    ({"rule": [{"name": "a", "flows": ["deny out ip from any to any"]}]}, "flows"),
    ({"rule": [{"name": "a", "qci": 0}]}, "qci"),
    ({"rule": [{"name": "a", "arp": 16}]}, "arp"),
    ({"rule": [{"name": "a", "arp": 3, "pre_emption_capability": "maybe"}]}, "pre_emption_capability"),
    ({"rule": [{"name": "a", "mbr_dl": MAX_BPS + 1}]}, "mbr_dl"),
    ({"rule": [{"name": "a", "online": "yes"}]}, "online"),
    ({"rule": [{"name": "a", "colour": "red"}]}, "colour"),
    ({"rules": []}, "rules"),
])
def test_bad_rules_are_refused_naming_the_key(doc, word):
    with pytest.raises(PlanError, match=word):
        rules_from(doc)


def test_plan_checks():
    with pytest.raises(PlanError, match="throttle"):
        Plan("p", "P", 1, 1, 9, Arp(8), throttle_ul=5)
    with pytest.raises(PlanError, match="duplicate"):
        Plan("p", "P", 1, 1, 9, Arp(8), rules=(ChargingRule("a"), ChargingRule("a")))
    with pytest.raises(PlanError, match="reserved"):
        Plan("p", "P", 1, 1, 9, Arp(8), rules=(ChargingRule(THROTTLE_RULE),))
    with pytest.raises(PlanError, match="priority"):
        Plan("p", "P", 1, 1, 9, Arp(0))
    with pytest.raises(PlanError, match="ambr_ul"):
        Plan("p", "P", 0, 1, 9, Arp(1))


def test_throttle_rule_carries_the_throttled_rates():
    rules = rules_from(tomllib.loads(EXAMPLE.read_text()))
    p = Plan("p", "P", 10_000_000, 50_000_000, 9, Arp(8), rules, 64_000, 128_000)
    t = throttle_rule(p)
    assert t is not None and (t.name, t.mbr_ul, t.mbr_dl, t.qci, t.arp) == (THROTTLE_RULE, 64_000, 128_000, 9, Arp(8))
    assert installed_rules(p, throttled=False) == rules
    assert installed_rules(p, throttled=True) == (*rules, t)
    unthrottled = Plan("q", "Q", 1, 1, 9, Arp(8), rules)
    assert throttle_rule(unthrottled) is None and installed_rules(unthrottled, throttled=True) == rules


bps = st.integers(1, MAX_BPS)
rule_st = st.builds(
    ChargingRule, name=st.text("abcxyz-", min_size=1, max_size=8),
    flows=st.lists(st.sampled_from(["permit out ip from any to any", "permit in 17 from any to 10.0.0.1 53"]),
                   max_size=2).map(tuple),
    flow_status=st.sampled_from(["enabled", "disabled", "enabled-uplink"]), qci=st.none() | st.integers(1, 255),
    arp=st.none() | st.builds(Arp, st.integers(1, 15), st.sampled_from(["enabled", "disabled"]),
                              st.sampled_from(["enabled", "disabled"])),
    mbr_ul=st.none() | bps, mbr_dl=st.none() | bps, gbr_ul=st.none() | bps, gbr_dl=st.none() | bps,
    precedence=st.none() | st.integers(0, 1000), rating_group=st.none() | st.integers(0, MAX_BPS),
    online=st.booleans(), offline=st.booleans())


@given(rules=st.lists(rule_st, max_size=4, unique_by=lambda r: r.name), ambr=bps, throttle=st.none() | bps,
       monthly=st.none() | st.integers(1, 2**62))
def test_plan_json_round_trip(rules, ambr, throttle, monthly):
    p = Plan("code", "Name", ambr, ambr, 9, Arp(8, "enabled", "disabled"), tuple(rules), throttle, throttle,
             monthly, None if monthly is None else "mk")
    assert plan_from(plan_json(p)) == p


def test_gx_config_section():
    from ocs.config import ConfigError, parse_config
    from tests.unit.test_config import MINIMAL, with_

    assert parse_config(MINIMAL).gx.default_plan is None
    assert parse_config(with_("gx", default_plan="basic")).gx.default_plan == "basic"
    with pytest.raises(ConfigError, match="gx"):
        parse_config(with_("gx", default_plna="basic"))


def test_usage_monitoring_values():
    p = Plan("p", "P", 1, 1, 9, Arp(8), monthly_octets=1000, monitoring_key="m")
    assert [monitoring_grant(p, used) for used in (0, 400, 1000, 5000)] == [1000, 600, 0, 0]
    assert monitoring_grant(Plan("q", "Q", 1, 1, 9, Arp(8)), 0) == 0
    with pytest.raises(PlanError, match="Monitoring-Key"):
        Plan("p", "P", 1, 1, 9, Arp(8), monthly_octets=1000)
    assert billing_month(0) == "197001" and billing_month(1_798_761_599) == "202612"
