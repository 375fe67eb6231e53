"""The `[gx]` section: policy control over Diameter Gx (TS 29.212), issue 10.

Pure: no I/O. Every key is documented with its default in conf/ocsd.example.toml.
"""

from __future__ import annotations

from dataclasses import dataclass

from ocs.config.table import Table


@dataclass(frozen=True, slots=True)
class GxConfig:
    # Code of the plan (`ocsd plan create`) of a subscriber who has none; None: such a subscriber has no plan.
    default_plan: str | None = None
    # Seconds a PCEF session is kept after its last CCR (open5gs sends CCR-I and CCR-T only: a whole PDN
    # session's length); a session whose CCR-T never came is then forgotten.
    session_lifetime: int = 7 * 86400
    # Seconds an ended session is kept to answer a retransmission of its CCR-T.
    answer_ttl: int = 900


def parse_gx(t: Table) -> GxConfig:
    d = GxConfig()
    gx = GxConfig(default_plan=t.optional_str("default_plan"),
                  session_lifetime=t.integer("session_lifetime", d.session_lifetime, minimum=1),
                  answer_ttl=t.integer("answer_ttl", d.answer_ttl, minimum=1))
    t.finish()
    return gx


__all__ = ["GxConfig", "parse_gx"]
