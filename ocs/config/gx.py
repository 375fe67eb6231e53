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


def parse_gx(t: Table) -> GxConfig:
    gx = GxConfig(default_plan=t.optional_str("default_plan"))
    t.finish()
    return gx


__all__ = ["GxConfig", "parse_gx"]
