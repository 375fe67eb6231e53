"""`ocsd session list --app gx` (issue 10 point 5): the live PCEF sessions (Redis) with their plan, installed
rules and whether they are throttled."""

from __future__ import annotations

from typing import Any

from ocs.cli.money import table
from ocs.services.sessions import gx_sessions


def gx_text(found: list[dict[str, Any]]) -> str:
    rows = [[s["session"], s["imsi"], s["apn"], s["ip"] or "-", s["peer"], s["plan"] or "-",
             ",".join(s["rules"]) or "-", "yes" if s["throttled"] else "no"] for s in found]
    return table(("session", "imsi", "apn", "ip", "peer", "plan", "rules", "throttled"), rows,
                 "no live sessions")


__all__ = ["gx_sessions", "gx_text"]
