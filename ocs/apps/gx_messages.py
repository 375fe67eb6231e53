"""Gx messages (TS 29.212 §5.6): the CCA's policy content and the RAR that pushes rules, built by name from a
plan (ocs.policy.plans). Pure.

What open5gs honours (shared/PEERS.md): in the CCA, APN-AMBR inside QoS-Information, Default-EPS-Bearer-QoS and
Charging-Rule-Install with full Charging-Rule-Definitions (never names alone); in a RAR only
Charging-Rule-Install/Remove, so a throttle travels as a rule carrying the throttled QoS.
"""

from __future__ import annotations

from typing import Any

from ocs.diameter.codes import FLAG_PROXIABLE, FLAG_REQUEST
from ocs.diameter.dictionary import Dictionary
from ocs.diameter.message import Message
from ocs.policy.plans import FLOW_STATUSES, Arp, ChargingRule, Plan

APP_GX = 16777238  # TS 29.212 §5.1
VENDOR_3GPP = 10415
# TS 29.212 §5.4.1: Supported-Features as the open5gs SMF sends and expects it (Feature-List-ID 1,
# Feature-List 0x0b: Rel8, Rel9, ProvAFsignalFlow), shared/PEERS.md.
SUPPORTED_FEATURES = {"Vendor-Id": VENDOR_3GPP, "Feature-List-ID": 1, "Feature-List": 0x0B}
# TS 29.212 §5.3.7 Event-Trigger: the PCEF reports when a rule's credit runs out or comes back (§4.5.3, the
# fair-use triggers the PCRF acts on).
OUT_OF_CREDIT, REALLOCATION_OF_CREDIT, USAGE_REPORT = 15, 16, 33
ENABLE = 1  # TS 29.212 §5.3.12-13 Online/Offline: ENABLE_ONLINE / ENABLE_OFFLINE
DISABLE = 0
AUTHORIZE_ONLY = 0  # RFC 6733 §8.12 Re-Auth-Request-Type


def arp(a: Arp) -> dict[str, Any]:
    """TS 29.212 §5.3.32 Allocation-Retention-Priority (Pre-emption-*: 0 ENABLED, 1 DISABLED, §5.3.46-47)."""
    return {"Priority-Level": a.priority,
            "Pre-emption-Capability": 0 if a.pre_emption_capability == "enabled" else 1,
            "Pre-emption-Vulnerability": 0 if a.pre_emption_vulnerability == "enabled" else 1}


def rule_definition(r: ChargingRule) -> dict[str, Any]:
    """TS 29.212 §5.3.4 Charging-Rule-Definition, every part the rule has."""
    qos: dict[str, Any] = {"QoS-Class-Identifier": r.qci, "Max-Requested-Bandwidth-UL": r.mbr_ul,
                           "Max-Requested-Bandwidth-DL": r.mbr_dl, "Guaranteed-Bitrate-UL": r.gbr_ul,
                           "Guaranteed-Bitrate-DL": r.gbr_dl,
                           "Allocation-Retention-Priority": arp(r.arp) if r.arp is not None else None}
    has_qos = any(v is not None for v in qos.values())
    return {
        "Charging-Rule-Name": r.name.encode(),
        "Rating-Group": r.rating_group,
        "Flow-Information": [{"Flow-Description": f} for f in r.flows] or None,
        "Flow-Status": FLOW_STATUSES_CODE[r.flow_status],
        "QoS-Information": qos if has_qos else None,
        "Online": ENABLE if r.online else DISABLE,
        "Offline": ENABLE if r.offline else DISABLE,
        "Precedence": r.precedence,
    }


# §5.3.11 Flow-Status: ENABLED-UPLINK 0, ENABLED-DOWNLINK 1, ENABLED 2, DISABLED 3, REMOVED 4
FLOW_STATUSES_CODE = {"enabled-uplink": 0, "enabled-downlink": 1, "enabled": 2, "disabled": 3, "removed": 4}
assert set(FLOW_STATUSES_CODE) == set(FLOW_STATUSES)


def rule_install(rules: tuple[ChargingRule, ...]) -> dict[str, Any] | None:
    """§5.3.2 Charging-Rule-Install with full definitions (None when there is no rule)."""
    return {"Charging-Rule-Definition": [rule_definition(r) for r in rules]} if rules else None


def rule_remove(names: list[str]) -> dict[str, Any] | None:
    """§5.3.3 Charging-Rule-Remove by name."""
    return {"Charging-Rule-Name": [n.encode() for n in names]} if names else None


def policy(plan: Plan, rules: tuple[ChargingRule, ...], throttled: bool) -> dict[str, Any]:
    """A CCA-I's policy: APN-AMBR (§5.3.15, the throttled rates while throttled), the default bearer's QoS
    (§5.3.48), the rules, and the session's charging defaults and event triggers."""
    ul, dl = (plan.throttle_ul, plan.throttle_dl) if throttled and plan.throttles else (plan.ambr_ul, plan.ambr_dl)
    return {
        "Supported-Features": SUPPORTED_FEATURES,
        "Event-Trigger": [OUT_OF_CREDIT, REALLOCATION_OF_CREDIT],
        "Online": ENABLE, "Offline": DISABLE,
        "QoS-Information": {"APN-Aggregate-Max-Bitrate-UL": ul, "APN-Aggregate-Max-Bitrate-DL": dl},
        "Default-EPS-Bearer-QoS": {"QoS-Class-Identifier": plan.qci, "Allocation-Retention-Priority": arp(plan.arp)},
        "Charging-Rule-Install": rule_install(rules),
    }


def monitoring(plan: Plan, grant: int) -> dict[str, Any]:
    """Usage monitoring (TS 29.212 §4.5.17.1): Usage-Monitoring-Information (§5.3.60) with the threshold as
    Granted-Service-Unit, session level (§5.3.61 SESSION_LEVEL 0), and the USAGE_REPORT event trigger."""
    assert plan.monitoring_key is not None
    return {"Event-Trigger": [OUT_OF_CREDIT, REALLOCATION_OF_CREDIT, USAGE_REPORT],
            "Usage-Monitoring-Information": {"Monitoring-Key": plan.monitoring_key.encode(),
                                             "Granted-Service-Unit": {"CC-Total-Octets": grant},
                                             "Usage-Monitoring-Level": 0}}


def make_rar(d: Dictionary, origin_host: str, origin_realm: str, session_id: str, peer: str, realm: str,
             install: tuple[ChargingRule, ...], remove: list[str], plan: Plan | None = None) -> Message:
    """TS 29.212 §5.6.4 RAR (sent over the owning peer's connection, Destination-Host the PCEF); with `plan` (a
    plan change) also its APN-AMBR and default bearer QoS, for PCEFs that honour them (open5gs does not)."""
    code = d.command_named("Re-Auth", APP_GX).code
    return Message(code, APP_GX, FLAG_REQUEST | FLAG_PROXIABLE, 0, 0, d.build({
        "Session-Id": session_id, "Auth-Application-Id": APP_GX, "Origin-Host": origin_host,
        "Origin-Realm": origin_realm, "Destination-Realm": realm, "Destination-Host": peer,
        "Re-Auth-Request-Type": AUTHORIZE_ONLY,
        "Charging-Rule-Remove": rule_remove(remove), "Charging-Rule-Install": rule_install(install),
        "QoS-Information": {"APN-Aggregate-Max-Bitrate-UL": plan.ambr_ul, "APN-Aggregate-Max-Bitrate-DL": plan.ambr_dl}
        if plan is not None else None,
        "Default-EPS-Bearer-QoS": {"QoS-Class-Identifier": plan.qci, "Allocation-Retention-Priority": arp(plan.arp)}
        if plan is not None else None}))


__all__ = ["APP_GX", "SUPPORTED_FEATURES", "VENDOR_3GPP", "make_rar", "monitoring", "policy", "rule_definition",
           "rule_install", "rule_remove"]
