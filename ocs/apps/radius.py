"""RADIUS for Mikrotik hotspots (RFC 2865 access, RFC 2866 accounting): the decisions.

Access-Request: the user (a voucher code, or a hotspot user) logs in by PAP or CHAP; the Access-Accept carries
what remains (radius.hotspot.accept_attributes). A refusal is a hotspot domain error (radius.errors) that the
table in ocs.apps.errors turns into an Access-Reject with a Reply-Message a person can read.
Accounting-Request: Start, Interim-Update and Stop carry cumulative counters (64-bit with the Gigawords); the
service deducts the positive delta atomically; the Accounting-Response goes only after that (RFC 2866 §2).
Accounting-On/Off close the router's sessions. An account found used up calls `exhausted` (enforcement).
Attributes are read and written by name (dictionaries/radius); pure: the service and the clock are passed in.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from ocs.apps.dispatch import RadiusContext, RadiusHandler
from radius.hotspot import Remaining, accept_attributes, counter64
from radius.packets import (
    ACCESS_ACCEPT,
    ACCESS_REQUEST,
    ACCOUNTING_REQUEST,
    ACCOUNTING_RESPONSE,
    RadiusReply,
    RadiusRequest,
    chap_matches,
    pap_password,
)

CLASS_PREFIX = b"ocsd:"  # Class (RFC 2865 §5.25) = "ocsd:" + account id; the NAS echoes it in accounting
STATUS = {"Start": "start", "Interim-Update": "interim", "Stop": "stop"}  # RFC 2866 §5.1, RFC 2869 §2.1
ON_OFF = ("Accounting-On", "Accounting-Off")


class Outcome(Protocol):
    @property
    def account(self) -> str: ...

    @property
    def exhausted(self) -> bool: ...


class HotspotLogins(Protocol):
    async def login(self, user: str, mac: str, now: int,
                    password_ok: Callable[[bytes], bool]) -> tuple[str, Remaining]: ...

    async def account_of_user(self, user: str) -> str: ...

    async def accounting(self, account: str, params: dict[str, Any]) -> Outcome: ...

    async def close_client_sessions(self, client: str, now: int, cause: str) -> int: ...


def password_check(request: RadiusRequest) -> Callable[[bytes], bool]:
    """RFC 2865 §5.3 CHAP when the request carries CHAP-Password (the RouterOS default), else §5.2 PAP."""
    def ok(password: bytes) -> bool:
        chap = chap_matches(request, password)
        if chap is not None:
            return chap
        pap = pap_password(request)
        return pap is not None and pap == password
    return ok


def _str(request: RadiusRequest, name: str) -> str:
    v = request.get(name)
    return "" if v is None else str(v)


def _int(request: RadiusRequest, name: str) -> int:
    v = request.get(name)
    return v if isinstance(v, int) else 0


@dataclass
class HotspotRadius:
    service: HotspotLogins
    interim_interval: int
    clock: Callable[[], float]
    exhausted: Callable[[str], None] = lambda account: None  # enforcement of a used-up account
    stale_after: int = 0  # seconds without accounting after which the reaper looks at a session (0: never)

    def routes(self) -> Iterable[tuple[int, RadiusHandler]]:
        return ((ACCESS_REQUEST, self.access), (ACCOUNTING_REQUEST, self.accounting))

    async def access(self, request: RadiusRequest, ctx: RadiusContext) -> RadiusReply:
        now = int(self.clock())
        user = _str(request, "User-Name")
        mac = _str(request, "Calling-Station-Id").upper()
        account, left = await self.service.login(user, mac, now, password_check(request))
        return RadiusReply(ACCESS_ACCEPT, accept_attributes(left, now, self.interim_interval,
                                                            CLASS_PREFIX + account.encode()))

    async def accounting(self, request: RadiusRequest, ctx: RadiusContext) -> RadiusReply:
        now = int(self.clock())
        status = _str(request, "Acct-Status-Type")
        if status in ON_OFF:  # RFC 2866 §5.1: the NAS (re)started or stops: its sessions are over
            await self.service.close_client_sessions(ctx.client, now, "NAS-Reboot")
            return RadiusReply(ACCOUNTING_RESPONSE)
        kind = STATUS.get(status)
        if kind is None:
            return RadiusReply(ACCOUNTING_RESPONSE)  # nothing we keep (e.g. Failed); acknowledged
        klass = request.get("Class")
        if isinstance(klass, bytes) and klass.startswith(CLASS_PREFIX):
            account = klass[len(CLASS_PREFIX):].decode(errors="replace")
        else:
            account = await self.service.account_of_user(_str(request, "User-Name"))
        outcome = await self.service.accounting(account, {
            "sid": _str(request, "Acct-Session-Id"), "status": kind,
            # RFC 2869 §5.1, §5.2: the 64-bit counts are octets + gigawords * 2^32
            "inp": counter64(_int(request, "Acct-Input-Octets"), _int(request, "Acct-Input-Gigawords")),
            "outp": counter64(_int(request, "Acct-Output-Octets"), _int(request, "Acct-Output-Gigawords")),
            "time": _int(request, "Acct-Session-Time"), "now": now, "client": ctx.client,
            "user": _str(request, "User-Name"), "mac": _str(request, "Calling-Station-Id").upper(),
            "ip": _str(request, "Framed-IP-Address"), "nas_ip": _str(request, "NAS-IP-Address"), "src": ctx.address,
            "cause": _str(request, "Acct-Terminate-Cause"), "stale": self.stale_after})
        if outcome.exhausted and kind != "stop":
            self.exhausted(outcome.account)
        return RadiusReply(ACCOUNTING_RESPONSE)


__all__ = ["CLASS_PREFIX", "HotspotLogins", "HotspotRadius", "password_check"]
