"""Live sessions of every kind in one list, and ending one (issue 16 point 1, `ocsd session list|terminate`,
`ocsd hotspot session list|disconnect`): the CLI and the admin API both call these.

- Gy (credit control, RFC 4006): the session states in Redis (`<p>:{account}:gys`); ending one is an ASR
  (RFC 6733 §8.5) sent by the running daemon over the owning peer's connection: the request goes through the
  `gynotify` stream (ocs.services.gy_notify) and the ASA's Result-Code comes back on a reply list.
- Gx (PCEF policy, TS 29.212): the PCEF sessions in Redis; the PCRF does not end them itself (the PCEF does,
  with CCR-T), so terminate refuses them.
- RADIUS hotspot (RFC 2866 accounting): the live sessions in Redis; ending one is a Disconnect-Request
  (RFC 5176 §3) to the router, answered ack / nak / timeout.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ocs.config import Config
from ocs.services.charging import ChargingService
from ocs.services.gy_notify import notify
from ocs.services.hotspot import HotspotService
from ocs.services.hotspot_enforce import Enforcer

APPS = ("gy", "gx", "radius")


class TerminateRefused(Exception):
    """The session cannot be ended from here (a Gx session, or no daemon holds the owning peer)."""


def _iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


async def gx_sessions(config: Config, charging: ChargingService, account: str | None) -> list[dict[str, Any]]:
    """Every live Gx session, or those of one account (`ocsd session list --app gx`)."""
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


async def gy_sessions(config: Config, charging: ChargingService, account: str | None) -> list[dict[str, Any]]:
    """Every live Gy session with its reservations, or those of one account (`ocsd session list`)."""
    from ocs.services.gy import gy_store

    store = gy_store(config, charging.store)
    accounts = [account] if account is not None else await store.accounts_with_sessions()
    out = []
    for a in accounts:
        for sid, s in (await store.sessions(a)).items():
            out.append({"session": sid, "account": a, **s,
                        "reserved": {str(k): v for k, v in s["reserved"].items()}})
    return out


@dataclass
class Sessions:
    config: Config
    charging: ChargingService
    hotspot: HotspotService
    enforcer: Enforcer | None = None  # the daemon's RADIUS enforcer (None: RADIUS is off)
    gy_enabled: bool = True  # this daemon runs Gy (its notifier sends the ASR)

    async def live(self, account: str | None = None, apps: tuple[str, ...] = APPS) -> list[dict[str, Any]]:
        """Every live session of the given applications (of one account), ordered by (app, id): each with
        id, app, account, imsi, msisdn, peer, started (RFC 3339 or null) and `detail` (what the app keeps)."""
        out: list[dict[str, Any]] = []
        if "gy" in apps:
            for s in await gy_sessions(self.config, self.charging, account):
                out.append({"id": s["session"], "app": "gy", "account": s["account"], "imsi": s["imsi"] or None,
                            "msisdn": s["msisdn"] or None, "peer": s["peer"], "started": _iso_ms(s["start_ms"]),
                            "detail": {k: v for k, v in s.items() if k not in ("session", "account", "imsi",
                                                                              "msisdn", "peer", "start_ms")}})
        if "gx" in apps:
            for s in await gx_sessions(self.config, self.charging, account):
                out.append({"id": s["session"], "app": "gx", "account": s["account"], "imsi": s["imsi"] or None,
                            "msisdn": None, "peer": s["peer"], "started": None,
                            "detail": {k: s[k] for k in ("apn", "ip", "plan", "rules", "throttled",
                                                         "request_number")}})
        if "radius" in apps:
            for h in await self.hotspot.live_sessions():
                if account is not None and h.account != account:
                    continue
                out.append({"id": h.session_id, "app": "radius", "account": h.account, "imsi": None,
                            "msisdn": None, "peer": h.client, "started": _iso_ms(h.started * 1000),
                            "detail": {"user": h.user, "calling_station_id": h.mac, "framed_ip": h.framed_ip,
                                       "input_octets": h.input_octets, "output_octets": h.output_octets,
                                       "session_time": h.session_time}})
        out.sort(key=lambda s: (APPS.index(s["app"]), s["id"]))
        return out

    async def app_of(self, session_id: str) -> str | None:
        """Which application holds a live session with this id (None: none does). Gy by the session's account
        key (one Redis; a cluster has none, then the session index is read), Gx by its session hash, hotspot
        from the live-session index."""
        from ocs.services.gy import gy_store

        gy = gy_store(self.config, self.charging.store)
        account = await gy.session_account(session_id)
        if account is not None and session_id in await gy.sessions(account):
            return "gy"
        if await self._gx_store().get(session_id) is not None:
            return "gx"
        if any(h.session_id == session_id for h in await self.hotspot.live_sessions()):
            return "radius"
        if account is None and any(s["session"] == session_id
                                   for s in await gy_sessions(self.config, self.charging, None)):
            return "gy"
        return None

    def _gx_store(self) -> Any:
        from ocs.services.gx import gx_store

        return gx_store(self.config, self.charging.store)

    async def terminate(self, session_id: str, app: str, timeout: float) -> dict[str, Any]:
        """End a live session: {"app", "peer", "result", "state"} — the ASA's Result-Code (Gy) and what became of
        the session ("terminating" until its CCR-T or the reaper, "closed"), or the router's answer (RADIUS:
        "ack", "nak", "timeout"; state "closed" on ack). TerminateRefused when it cannot be asked."""
        if app == "radius":
            if self.enforcer is None:
                raise TerminateRefused("RADIUS is not enabled in this daemon")
            outcome = await self.enforcer.disconnect(session_id, "admin-api")
            if outcome is None:
                raise TerminateRefused(f"no live hotspot session {session_id!r}")
            return {"app": app, "peer": None, "result": outcome, "state": "closed" if outcome == "ack" else None}
        if app == "gx":
            raise TerminateRefused("a Gx session is ended by the PCEF (CCR-T, TS 29.212 §4.5.1): end its Gy "
                                   "session or block the account instead")
        if not self.gy_enabled:
            raise TerminateRefused("Gy is not enabled in this daemon ([diameter] applications)")
        return await abort_gy(self.charging, session_id, timeout)


async def abort_gy(charging: ChargingService, session_id: str, timeout: float) -> dict[str, Any]:
    """Ask the running daemon (through Redis) to send ASR for a Gy session; waits for the ASA's Result-Code."""
    store = charging.store
    reply_key = f"{store.prefix}:gyreply:{uuid.uuid4().hex}"
    await notify(store, kind="abort", session=session_id, reply=reply_key)
    found = await store.client.blpop([reply_key], timeout=timeout)
    if found is None:
        raise TimeoutError(f"no answer within {timeout:g} s (is the daemon running with gy, and the peer "
                           "connected?)")
    answer = json.loads(found[1])
    if not answer.get("ok"):
        raise TerminateRefused(str(answer.get("error", "refused")))
    return {"app": "gy", "peer": answer.get("peer"), "result": answer.get("result"), "state": answer.get("state")}


__all__ = ["APPS", "Sessions", "TerminateRefused", "abort_gy", "gx_sessions", "gy_sessions"]
