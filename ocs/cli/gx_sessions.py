"""`ocsd session list --app gx` (issue 10 point 5): the live PCEF sessions (Redis) with their plan, installed
rules and whether they are throttled."""

from __future__ import annotations

import json
from typing import Any

from ocs.cli.money import table


async def gx_sessions(config: Any, charging: Any, account: str | None) -> list[dict[str, Any]]:
    """Every live Gx session, or those of one account."""
    from ocs.policy.plans import installed_rules, plan_from
    from ocs.services.gx import gx_store

    store = gx_store(config, charging.store)
    found = await (store.sessions_of_account(account) if account is not None else store.all_sessions())
    out = []
    for sid, s in sorted(found.items()):
        plan = plan_from(json.loads(s["plan"])) if s.get("plan") else None
        throttled = s.get("throttled") == "1"
        out.append({"session": sid, "imsi": s.get("imsi", ""), "account": s.get("account") or None,
                    "apn": s.get("apn", ""), "ip": s.get("ip", ""), "peer": s.get("peer", ""),
                    "plan": plan.code if plan is not None else None,
                    "rules": [r.name for r in installed_rules(plan, throttled)] if plan is not None else [],
                    "throttled": throttled, "request_number": int(s.get("n", 0))})
    return out


def gx_text(found: list[dict[str, Any]]) -> str:
    rows = [[s["session"], s["imsi"], s["apn"], s["ip"] or "-", s["peer"], s["plan"] or "-",
             ",".join(s["rules"]) or "-", "yes" if s["throttled"] else "no"] for s in found]
    return table(("session", "imsi", "apn", "ip", "peer", "plan", "rules", "throttled"), rows,
                 "no live sessions")


__all__ = ["gx_sessions", "gx_text"]
