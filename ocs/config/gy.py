"""The `[gy]` section: online charging over Diameter Credit-Control (RFC 4006, TS 32.299), issue 9.

Pure: no I/O. Every key is documented with its default in conf/ocsd.example.toml.
"""

from __future__ import annotations

from dataclasses import dataclass

from ocs.config.table import ConfigError, Table

FINAL_UNIT_ACTIONS = ("terminate", "redirect")


@dataclass(frozen=True, slots=True)
class GyConfig:
    # Rating group of an MSCC without Rating-Group (open5gs sends exactly that) and of a CCR without MSCC.
    default_rating_group: int = 1
    # The most one Granted-Service-Unit holds, per unit; a grant is smaller when the account cannot pay more.
    grant_octets: int = 10_000_000
    grant_seconds: int = 600
    grant_units: int = 10
    # RFC 4006 §8.35: what the client does when the last grant is used: "terminate" or "redirect" (to redirect_url).
    final_unit_action: str = "terminate"
    redirect_url: str | None = None
    # RFC 4006 §8.33 Validity-Time of every grant, seconds.
    validity_time: int = 3600
    # TS 32.299 §7.2.{254,227}: Volume-/Time-Quota-Threshold as a percentage of the grant; 0: not sent.
    quota_threshold_percent: int = 0
    # A session silent past Validity-Time plus this many seconds is closed by the reaper.
    session_grace: int = 300
    # Seconds a CCA is kept to answer a retransmission of its CCR (same Session-Id and CC-Request-Number).
    answer_ttl: int = 900


def parse_gy(t: Table) -> GyConfig:
    d = GyConfig()
    action = t.choice("final_unit_action", FINAL_UNIT_ACTIONS, d.final_unit_action)
    redirect_url = t.optional_str("redirect_url")
    if action == "redirect" and redirect_url is None:
        raise ConfigError(f"{t.key('redirect_url')}: is required when final_unit_action is \"redirect\"")
    percent = t.integer("quota_threshold_percent", d.quota_threshold_percent, minimum=0)
    if percent > 99:
        raise ConfigError(f"{t.key('quota_threshold_percent')}: must be at most 99, got {percent}")
    gy = GyConfig(
        default_rating_group=t.integer("default_rating_group", d.default_rating_group, minimum=0),
        grant_octets=t.integer("grant_octets", d.grant_octets, minimum=1),
        grant_seconds=t.integer("grant_seconds", d.grant_seconds, minimum=1),
        grant_units=t.integer("grant_units", d.grant_units, minimum=1),
        final_unit_action=action,
        redirect_url=redirect_url,
        validity_time=t.integer("validity_time", d.validity_time, minimum=1),
        quota_threshold_percent=percent,
        session_grace=t.integer("session_grace", d.session_grace, minimum=0),
        answer_ttl=t.integer("answer_ttl", d.answer_ttl, minimum=1),
    )
    t.finish()
    return gy


__all__ = ["FINAL_UNIT_ACTIONS", "GyConfig", "parse_gy"]
