"""Plans (issue 10 point 1): APN-AMBR, the default bearer's QCI/ARP, charging rules, and the throttle used when
the account's data runs out. Values only; parsed from the rules file (TOML, see conf/gx_rules.example.toml)
and from/to the JSON kept in PostgreSQL. Pure: no I/O.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

MAX_BPS = 2**32 - 1  # TS 29.212 §5.3.{41,42} APN-Aggregate-Max-Bitrate-UL/DL are Unsigned32 bits/s
FLOW_STATUSES = ("enabled-uplink", "enabled-downlink", "enabled", "disabled", "removed")  # §5.3.11, values 0..4
PRE_EMPTION = ("enabled", "disabled")  # TS 29.212 §5.3.{46,47}: 0 = ENABLED, 1 = DISABLED
THROTTLE_RULE = "ocsd-throttle"  # Charging-Rule-Name of the rule that carries the throttled QoS


class PlanError(ValueError):
    """A plan or rule that cannot be used (the message names the field)."""


@dataclass(frozen=True, slots=True)
class Arp:
    """Allocation-Retention-Priority (TS 29.212 §5.3.32): priority 1 (highest) .. 15."""

    priority: int
    pre_emption_capability: str = "disabled"
    pre_emption_vulnerability: str = "enabled"


@dataclass(frozen=True, slots=True)
class ChargingRule:
    """One Charging-Rule-Definition (TS 29.212 §5.3.4)."""

    name: str
    flows: tuple[str, ...] = ()  # Flow-Description (IPFilterRule, RFC 6733 §4.3), "permit out ip from ... to ..."
    flow_status: str = "enabled"
    qci: int | None = None
    arp: Arp | None = None
    mbr_ul: int | None = None
    mbr_dl: int | None = None
    gbr_ul: int | None = None
    gbr_dl: int | None = None
    precedence: int | None = None
    rating_group: int | None = None
    online: bool = False
    offline: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    code: str
    name: str
    ambr_ul: int
    ambr_dl: int
    qci: int
    arp: Arp
    rules: tuple[ChargingRule, ...] = ()
    throttle_ul: int | None = None  # the lower APN-AMBR once the data runs out (None: no throttle)
    throttle_dl: int | None = None
    # usage monitoring (TS 29.212 §4.5.17): the octets a billing month allows, reported under this Monitoring-Key
    monthly_octets: int | None = None
    monitoring_key: str | None = None

    def __post_init__(self) -> None:
        _bps("ambr_ul", self.ambr_ul)
        _bps("ambr_dl", self.ambr_dl)
        _qci("qci", self.qci)
        _arp("arp", self.arp)
        if (self.throttle_ul is None) != (self.throttle_dl is None):
            raise PlanError("throttle: give both uplink and downlink, or neither")
        if self.throttle_ul is not None and self.throttle_dl is not None:
            _bps("throttle_ul", self.throttle_ul)
            _bps("throttle_dl", self.throttle_dl)
        if (self.monthly_octets is None) != (self.monitoring_key is None):
            raise PlanError("usage monitoring: give both the monthly volume and the Monitoring-Key, or neither")
        if self.monthly_octets is not None and not 1 <= self.monthly_octets < 2**63:
            raise PlanError(f"monthly_octets: from 1 octet, got {self.monthly_octets}")
        if self.monitoring_key is not None and not (self.monitoring_key and self.monitoring_key.isprintable()):
            raise PlanError(f"monitoring_key: a non-empty printable string, got {self.monitoring_key!r}")
        names = [r.name for r in self.rules]
        if len(set(names)) != len(names):
            raise PlanError(f"rules: duplicate rule names in {names}")
        if THROTTLE_RULE in names:
            raise PlanError(f"rules: {THROTTLE_RULE!r} is the throttle rule's name, reserved")

    @property
    def throttles(self) -> bool:
        return self.throttle_ul is not None


def _bps(field: str, v: int) -> None:
    if not 1 <= v <= MAX_BPS:
        raise PlanError(f"{field}: bits/s from 1 to {MAX_BPS}, got {v}")


def _qci(field: str, v: int) -> None:
    if not 1 <= v <= 255:  # TS 29.212 §5.3.17 QoS-Class-Identifier; TS 23.203 §6.1.7 standardised 1..9, 65..
        raise PlanError(f"{field}: a QCI from 1 to 255, got {v}")


def _arp(field: str, a: Arp) -> None:
    if not 1 <= a.priority <= 15:  # TS 29.212 §5.3.45 Priority-Level 1..15
        raise PlanError(f"{field}: priority level from 1 to 15, got {a.priority}")
    for name, v in (("pre_emption_capability", a.pre_emption_capability),
                    ("pre_emption_vulnerability", a.pre_emption_vulnerability)):
        if v not in PRE_EMPTION:
            raise PlanError(f"{field}.{name}: one of {', '.join(PRE_EMPTION)}, got {v!r}")


_RULE_KEYS = {"name", "flows", "flow_status", "qci", "arp", "pre_emption_capability", "pre_emption_vulnerability",
              "mbr_ul", "mbr_dl", "gbr_ul", "gbr_dl", "precedence", "rating_group", "online", "offline"}


def _int(where: str, raw: Mapping[str, Any], key: str, lo: int, hi: int) -> int | None:
    v = raw.get(key)
    if v is None:
        return None
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise PlanError(f"{where}.{key}: an integer from {lo} to {hi}, got {v!r}")
    return v


def rule_from(raw: Mapping[str, Any], where: str = "rule") -> ChargingRule:
    """One rule from the rules file's table (or the stored JSON, the same keys)."""
    unknown = set(raw) - _RULE_KEYS
    if unknown:
        raise PlanError(f"{where}: unknown keys {sorted(unknown)}")
    name = raw.get("name")
    if not isinstance(name, str) or not name or not name.isprintable():
        raise PlanError(f"{where}.name: a non-empty string, got {name!r}")
    where = f"{where} {name!r}"
    flows = raw.get("flows", [])
    if not isinstance(flows, list) or not all(isinstance(f, str) and f.startswith(("permit in ", "permit out "))
                                              for f in flows):
        raise PlanError(f"{where}.flows: a list of IPFilterRule strings (\"permit out ip from any to any\")")
    status = raw.get("flow_status", "enabled")
    if status not in FLOW_STATUSES:
        raise PlanError(f"{where}.flow_status: one of {', '.join(FLOW_STATUSES)}, got {status!r}")
    arp_level = _int(where, raw, "arp", 1, 15)
    arp = None
    if arp_level is not None:
        arp = Arp(arp_level, raw.get("pre_emption_capability", "disabled"),
                  raw.get("pre_emption_vulnerability", "enabled"))
        _arp(f"{where}.arp", arp)
    for flag in ("online", "offline"):
        if not isinstance(raw.get(flag, False), bool):
            raise PlanError(f"{where}.{flag}: true or false, got {raw[flag]!r}")
    qci = _int(where, raw, "qci", 1, 255)
    return ChargingRule(name=name, flows=tuple(flows), flow_status=status, qci=qci, arp=arp,
                        mbr_ul=_int(where, raw, "mbr_ul", 1, MAX_BPS), mbr_dl=_int(where, raw, "mbr_dl", 1, MAX_BPS),
                        gbr_ul=_int(where, raw, "gbr_ul", 1, MAX_BPS), gbr_dl=_int(where, raw, "gbr_dl", 1, MAX_BPS),
                        precedence=_int(where, raw, "precedence", 0, MAX_BPS),
                        rating_group=_int(where, raw, "rating_group", 0, MAX_BPS),
                        online=bool(raw.get("online", False)), offline=bool(raw.get("offline", False)))


def rules_from(doc: Mapping[str, Any]) -> tuple[ChargingRule, ...]:
    """The rules file: `[[rule]]` tables (see conf/gx_rules.example.toml)."""
    unknown = set(doc) - {"rule"}
    if unknown:
        raise PlanError(f"rules file: unknown keys {sorted(unknown)} (rules are [[rule]] tables)")
    raw = doc.get("rule", [])
    if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
        raise PlanError("rules file: rules are [[rule]] tables")
    return tuple(rule_from(r, f"rule[{i}]") for i, r in enumerate(raw))


def rule_json(r: ChargingRule) -> dict[str, Any]:
    out: dict[str, Any] = {"name": r.name, "flows": list(r.flows), "flow_status": r.flow_status}
    for key in ("qci", "mbr_ul", "mbr_dl", "gbr_ul", "gbr_dl", "precedence", "rating_group"):
        if getattr(r, key) is not None:
            out[key] = getattr(r, key)
    if r.arp is not None:
        out.update(arp=r.arp.priority, pre_emption_capability=r.arp.pre_emption_capability,
                   pre_emption_vulnerability=r.arp.pre_emption_vulnerability)
    out.update(online=r.online, offline=r.offline)
    return out


def plan_json(p: Plan) -> dict[str, Any]:
    """The plan as `plan show --json` prints it (and as stored: rules in a jsonb column)."""
    return {"code": p.code, "name": p.name, "ambr_ul": p.ambr_ul, "ambr_dl": p.ambr_dl, "qci": p.qci,
            "arp": p.arp.priority, "pre_emption_capability": p.arp.pre_emption_capability,
            "pre_emption_vulnerability": p.arp.pre_emption_vulnerability,
            "rules": [rule_json(r) for r in p.rules], "throttle_ul": p.throttle_ul, "throttle_dl": p.throttle_dl,
            "monthly_octets": p.monthly_octets, "monitoring_key": p.monitoring_key}


def plan_from(d: Mapping[str, Any]) -> Plan:
    return Plan(code=d["code"], name=d["name"], ambr_ul=d["ambr_ul"], ambr_dl=d["ambr_dl"], qci=d["qci"],
                arp=Arp(d["arp"], d.get("pre_emption_capability", "disabled"),
                        d.get("pre_emption_vulnerability", "enabled")),
                rules=tuple(rule_from(r) for r in d.get("rules", ())),
                throttle_ul=d.get("throttle_ul"), throttle_dl=d.get("throttle_dl"),
                monthly_octets=d.get("monthly_octets"), monitoring_key=d.get("monitoring_key"))


def throttle_rule(p: Plan) -> ChargingRule | None:
    """The rule that carries the throttled QoS (issue 10 point 3: open5gs honours only rule install/remove in a
    RAR, TS 29.212 §4.5.2): all traffic at the plan's throttle bit rates, on the default bearer's QCI/ARP."""
    if p.throttle_ul is None or p.throttle_dl is None:
        return None
    return ChargingRule(name=THROTTLE_RULE, flows=("permit out ip from any to any", "permit in ip from any to any"),
                        qci=p.qci, arp=p.arp, mbr_ul=p.throttle_ul, mbr_dl=p.throttle_dl, precedence=1)


def installed_rules(p: Plan, throttled: bool) -> tuple[ChargingRule, ...]:
    """The rules a PCEF session of this plan carries: the plan's, plus the throttle rule while throttled."""
    t = throttle_rule(p) if throttled else None
    return (*p.rules, t) if t is not None else p.rules


def billing_month(unix_seconds: float) -> str:
    """The billing month of a moment: its UTC calendar month, "YYYYMM"."""
    t = time.gmtime(unix_seconds)
    return f"{t.tm_year:04d}{t.tm_mon:02d}"


def monitoring_grant(p: Plan, used: int) -> int:
    """Usage monitoring (TS 29.212 §4.5.17.1): the threshold granted to the PCEF, the octets left in the month
    (0 when none are left: the plan is then throttled)."""
    if p.monthly_octets is None:
        return 0
    return max(p.monthly_octets - used, 0)


__all__ = ["FLOW_STATUSES", "MAX_BPS", "PRE_EMPTION", "THROTTLE_RULE", "Arp", "ChargingRule", "Plan", "PlanError",
           "billing_month", "installed_rules", "monitoring_grant", "plan_from", "plan_json", "rule_from", "rule_json",
           "rules_from", "throttle_rule"]
