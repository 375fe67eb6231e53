"""Gx messages built by name (TS 29.212 §5.6): the CEA's Vendor-Specific-Application-Id, a rule's full
definition, the RAR, the usage-monitoring grant."""

from __future__ import annotations

from typing import Any, cast

from ocs.apps.dispatch import Dispatch
from ocs.apps.gx import Gx
from ocs.apps.gx_messages import make_rar, monitoring, policy, rule_definition
from ocs.diameter.capabilities import Application, LocalIdentity, identity_avps
from ocs.diameter.dictionary import default_dictionary
from ocs.diameter.message import Message
from ocs.policy.plans import Arp, ChargingRule, Plan, installed_rules

D = default_dictionary()
VOIP = ChargingRule("voip", ("permit out 17 from 10.45.0.1 5060 to any",), "enabled-downlink", 1,
                    Arp(2, "enabled", "disabled"), 128_000, 128_000, 64_000, 64_000, 10, 20, True, False)
PLAN = Plan("basic", "Basic", 1_000, 2_000, 9, Arp(8), (VOIP,), 64, 128, 10_000, "month")


def test_cea_advertises_gx_vendor_specifically():
    dispatch = Dispatch("ocsd.test", "test")
    dispatch.add(Gx("ocsd.test", "test", cast(Any, None)))
    assert dispatch.applications == (Application(16777238, 10415),)
    avps = D.read(Message(257, 0, 0, 0, 0, identity_avps(LocalIdentity("ocsd.test", "test"),
                                                          dispatch.applications)))
    vsai = avps["Vendor-Specific-Application-Id"]
    assert (vsai["Vendor-Id"], vsai["Auth-Application-Id"]) == (10415, 16777238)
    assert avps["Supported-Vendor-Id"] == 10415 and "Auth-Application-Id" not in avps


def test_rule_definition_carries_every_part():
    g = D.read(Message(272, 16777238, 0, 0, 0, D.build({"Charging-Rule-Definition": rule_definition(VOIP)})))
    d = g["Charging-Rule-Definition"]
    assert d["Charging-Rule-Name"] == b"voip" and d["Flow-Status"] == 1  # ENABLED-DOWNLINK
    assert d["Flow-Information"]["Flow-Description"] == VOIP.flows[0]
    q = d["QoS-Information"]
    assert (q["QoS-Class-Identifier"], q["Max-Requested-Bandwidth-UL"], q["Max-Requested-Bandwidth-DL"],
            q["Guaranteed-Bitrate-UL"], q["Guaranteed-Bitrate-DL"]) == (1, 128_000, 128_000, 64_000, 64_000)
    arp = q["Allocation-Retention-Priority"]
    assert (arp["Priority-Level"], arp["Pre-emption-Capability"], arp["Pre-emption-Vulnerability"]) == (2, 0, 1)
    assert (d["Precedence"], d["Rating-Group"], d["Online"], d["Offline"]) == (10, 20, 1, 0)
    bare = D.read(Message(272, 16777238, 0, 0, 0, D.build({"Charging-Rule-Definition":
                                                              rule_definition(ChargingRule("x"))})))
    assert "QoS-Information" not in bare["Charging-Rule-Definition"]


def test_policy_throttled_and_monitoring():
    g = D.read(Message(272, 16777238, 0, 0, 0, D.build(policy(PLAN, installed_rules(PLAN, True), True))))
    assert g["QoS-Information"]["APN-Aggregate-Max-Bitrate-DL"] == 128
    names = [d["Charging-Rule-Name"] for d in g["Charging-Rule-Install"].all("Charging-Rule-Definition")]
    assert names == [b"voip", b"ocsd-throttle"]
    m = D.read(Message(272, 16777238, 0, 0, 0, D.build(monitoring(PLAN, 4_000))))
    assert m["Usage-Monitoring-Information"]["Granted-Service-Unit"]["CC-Total-Octets"] == 4_000
    assert m.all("Event-Trigger") == [15, 16, 33]


def test_rar_installs_and_removes_by_name():
    rar = make_rar(D, "ocsd.test", "test", "smf;1", "smf.test", "test", installed_rules(PLAN, True)[1:], ["voip"])
    assert rar.is_request and rar.application_id == 16777238 and rar.command_code == 258
    g = D.read(Message.decode(rar.encode()))
    assert (g["Destination-Host"], g["Re-Auth-Request-Type"]) == ("smf.test", 0)
    assert g["Charging-Rule-Remove"]["Charging-Rule-Name"] == b"voip"
    assert g["Charging-Rule-Install"]["Charging-Rule-Definition"]["Charging-Rule-Name"] == b"ocsd-throttle"
