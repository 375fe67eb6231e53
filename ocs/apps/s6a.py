"""S6a (3GPP TS 29.272, application 16777251): the HSS side of Authentication-Information, Update-Location and
Purge-UE for an MME.

Requests are parsed into small values (`parse_air`, ...) and answers built from values (`aia`, `ula`, ...):
both are pure. `S6a` binds them to the AuC service and the subscriber registry; its handlers are what the
daemon registers. Refusals follow TS 29.272 §5.2 and §7.4: Experimental-Result with vendor 10415, and the
answer still carries Auth-Session-State (required in every S6a answer, §7.2).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from ocs.diameter import avp
from ocs.diameter.avp import Avp
from ocs.diameter.codes import (
    AUTH_APPLICATION_ID,
    AUTH_SESSION_STATE,
    DIAMETER_SUCCESS,
    ORIGIN_HOST,
    ORIGIN_REALM,
    SESSION_ID,
    USER_NAME,
    VENDOR_ID,
    VENDOR_SPECIFIC_APPLICATION_ID,
)
from ocs.diameter.errors import DiameterError
from ocs.diameter.message import Message

APP_S6A = 16777251
TGPP = 10415
CMD_UPDATE_LOCATION, CMD_CANCEL_LOCATION, CMD_AUTHENTICATION_INFORMATION, CMD_PURGE_UE = 316, 317, 318, 321

# TS 29.272 §7.3 AVP codes (vendor 10415 unless noted)
SUBSCRIPTION_DATA, ULR_FLAGS, ULA_FLAGS, VISITED_PLMN_ID = 1400, 1405, 1406, 1407
REQ_EUTRAN_AUTH_INFO, REQ_UTRAN_GERAN_AUTH_INFO, NUMBER_OF_REQUESTED_VECTORS = 1408, 1409, 1410
RE_SYNCHRONIZATION_INFO, AUTHENTICATION_INFO = 1411, 1413
E_UTRAN_VECTOR, UTRAN_VECTOR, GERAN_VECTOR = 1414, 1415, 1416
NETWORK_ACCESS_MODE, ITEM_NUMBER, CANCELLATION_TYPE = 1417, 1419, 1420
CONTEXT_IDENTIFIER, SUBSCRIBER_STATUS = 1423, 1424
OPERATOR_DETERMINED_BARRING, ALL_APN_CONFIG_INC_IND, APN_CONFIGURATION_PROFILE = 1425, 1428, 1429
APN_CONFIGURATION, EPS_SUBSCRIBED_QOS_PROFILE, AMBR, RAT_TYPE, PUA_FLAGS = 1430, 1431, 1435, 1032, 1442
RAND, XRES, AUTN, KASME, KC, SRES, PDN_TYPE = 1447, 1448, 1449, 1450, 1453, 1454, 1456
CONFIDENTIALITY_KEY, INTEGRITY_KEY, MSISDN = 625, 626, 701
MAX_REQUESTED_BANDWIDTH_UL, MAX_REQUESTED_BANDWIDTH_DL = 516, 515
QOS_CLASS_IDENTIFIER, ALLOCATION_RETENTION_PRIORITY = 1028, 1034
PRIORITY_LEVEL, PRE_EMPTION_CAPABILITY, PRE_EMPTION_VULNERABILITY = 1046, 1047, 1048
SERVICE_SELECTION = 493  # RFC 5778, vendor 0

# TS 29.272 §7.4.3 permanent and §7.4.4 transient failures (Experimental-Result-Code, vendor 10415)
DIAMETER_ERROR_USER_UNKNOWN = 5001
DIAMETER_ERROR_ROAMING_NOT_ALLOWED = 5004
DIAMETER_ERROR_UNKNOWN_EPS_SUBSCRIPTION = 5420
DIAMETER_ERROR_RAT_NOT_ALLOWED = 5421
DIAMETER_AUTHENTICATION_DATA_UNAVAILABLE = 4181

# §7.3.7 ULR-Flags bits
ULR_SINGLE_REGISTRATION = 1 << 0
ULR_S6A_S6D_INDICATOR = 1 << 1
ULR_SKIP_SUBSCRIBER_DATA = 1 << 2
ULR_INITIAL_ATTACH = 1 << 5
ULA_SEPARATION_INDICATION = 1 << 0  # §7.3.8
PUA_FREEZE_M_TMSI = 1 << 0  # §7.3.48
NO_STATE_MAINTAINED = 1  # RFC 6733 §8.11 Auth-Session-State
SUBSCRIBER_STATUS_SERVICE_GRANTED, SUBSCRIBER_STATUS_ODB = 0, 1  # §7.3.29
ODB_ALL_PACKET_ORIENTED_SERVICES_BARRED = 1 << 0  # §7.3.30
NETWORK_ACCESS_MODE_ONLY_PACKET = 2  # §7.3.21
CANCELLATION_MME_UPDATE_PROCEDURE = 0  # §7.3.24
RAT_TYPE_EUTRAN = 1004  # TS 29.212 §5.3.31
PDN_TYPES = {"ipv4": 0, "ipv6": 1, "ipv4v6": 2, "ipv4_or_ipv6": 3}  # §7.3.62
MAX_VECTORS = 5


def _tgpp(code: int, value: bytes) -> Avp:
    return avp.octets(code, value, TGPP)


def _tgpp_u32(code: int, value: int) -> Avp:
    return avp.u32(code, value, TGPP)


# --- requests ------------------------------------------------------------------------------------------------

def _imsi(req: Message) -> str:
    a = req.find(USER_NAME)
    if a is None:
        raise DiameterError(5005, "User-Name missing", avp.utf8(USER_NAME, ""))
    imsi = a.utf8
    if not (imsi.isdigit() and 6 <= len(imsi) <= 15):  # TS 23.003 §2.2
        raise DiameterError(5004, f"User-Name {imsi!r} is not an IMSI", a)
    return imsi


def _plmn(req: Message) -> bytes:
    a = req.find(VISITED_PLMN_ID, TGPP)
    if a is None:
        raise DiameterError(5005, "Visited-PLMN-Id missing", _tgpp(VISITED_PLMN_ID, b""))
    if len(a.data) != 3:
        raise DiameterError(5014, "Visited-PLMN-Id is 3 octets (TS 29.272 §7.3.9)", a)
    return a.data


def plmn_digits(plmn: bytes) -> str:
    """MCC+MNC digits of a PLMN id in TS 24.008 §10.5.1.3 order (MCC2|MCC1, MNC3|MCC3, MNC2|MNC1)."""
    mcc = f"{plmn[0] & 0xF}{plmn[0] >> 4}{plmn[1] & 0xF}"
    mnc = f"{plmn[2] & 0xF}{plmn[2] >> 4}"
    if plmn[1] >> 4 != 0xF:
        mnc += f"{plmn[1] >> 4}"
    return mcc + mnc


@dataclass(frozen=True, slots=True)
class AuthRequest:
    imsi: str
    plmn: bytes
    eutran: int  # vectors asked for, capped
    utran: int
    resync_info: bytes | None  # RAND || AUTS (§7.3.15), from either request group


def _requested(group: Avp | None, cap: int) -> tuple[int, bytes | None]:
    """(vectors asked for, capped; Re-Synchronization-Info or None) of one Requested-*-Authentication-Info."""
    if group is None:
        return 0, None
    members = group.grouped  # decoded once for both lookups
    n = avp.find(members, NUMBER_OF_REQUESTED_VECTORS, TGPP)
    resync = avp.find(members, RE_SYNCHRONIZATION_INFO, TGPP)
    return (min(n.u32, cap) if n is not None else 1), (resync.data if resync is not None else None)


def parse_air(req: Message, max_vectors: int = MAX_VECTORS) -> AuthRequest:
    """TS 29.272 §7.2.5; §5.2.3.1.3: vectors of each kind only when that kind is requested."""
    eutran, resync_e = _requested(req.find(REQ_EUTRAN_AUTH_INFO, TGPP), max_vectors)
    utran, resync_u = _requested(req.find(REQ_UTRAN_GERAN_AUTH_INFO, TGPP), max_vectors)
    resync = resync_u if resync_u is not None else resync_e
    return AuthRequest(_imsi(req), _plmn(req), eutran, utran, resync)


@dataclass(frozen=True, slots=True)
class LocationRequest:
    imsi: str
    plmn: bytes
    flags: int
    rat_type: int | None
    origin_host: str
    origin_realm: str


def parse_ulr(req: Message) -> LocationRequest:
    """TS 29.272 §7.2.3."""
    flags = req.find(ULR_FLAGS, TGPP)
    rat = req.find(RAT_TYPE, TGPP)
    host, realm = req.find(ORIGIN_HOST), req.find(ORIGIN_REALM)
    return LocationRequest(_imsi(req), _plmn(req), flags.u32 if flags is not None else 0,
                           rat.u32 if rat is not None else None, host.utf8 if host else "", realm.utf8 if realm else "")


# --- subscription data ------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class ApnProfile:
    """An APN's EPS-Subscribed-QoS-Profile and PDN type (TS 29.272 §7.3.35, §7.3.37)."""
    name: str
    qci: int = 9
    arp_priority: int = 8
    preemption_capable: bool = False
    preemption_vulnerable: bool = True
    pdn_type: str = "ipv4v6"
    ambr_ul: int | None = None  # bits/s; None: the subscriber's AMBR
    ambr_dl: int | None = None


@dataclass(frozen=True, slots=True)
class SubscriberProfile:
    imsi: str
    msisdn: str
    status: str  # "active" | "barred"
    apns: tuple[str, ...]
    ambr_ul: int
    ambr_dl: int


def tbcd(digits: str) -> bytes:
    """TBCD string (TS 29.002 §17.7.8): two digits an octet, low nibble first, odd length padded with F."""
    if len(digits) % 2:
        digits += "F"
    return bytes(int(digits[i + 1], 16) << 4 | int(digits[i], 16) for i in range(0, len(digits), 2))


def _ambr(ul: int, dl: int) -> Avp:
    return avp.grouped(AMBR, [_tgpp_u32(MAX_REQUESTED_BANDWIDTH_UL, min(ul, 0xFFFFFFFF)),
                              _tgpp_u32(MAX_REQUESTED_BANDWIDTH_DL, min(dl, 0xFFFFFFFF))], TGPP)


def subscription_data(s: SubscriberProfile, apn_profiles: dict[str, ApnProfile]) -> Avp:
    """Subscription-Data (TS 29.272 §7.3.2) as open5gs's MME needs it: MSISDN, Subscriber-Status (with ODB when
    barred), Network-Access-Mode, AMBR, and the APN-Configuration-Profile whose first APN is the default."""
    members = [_tgpp(MSISDN, tbcd(s.msisdn))]
    if s.status == "barred":
        members += [_tgpp_u32(SUBSCRIBER_STATUS, SUBSCRIBER_STATUS_ODB),
                    _tgpp_u32(OPERATOR_DETERMINED_BARRING, ODB_ALL_PACKET_ORIENTED_SERVICES_BARRED)]
    else:
        members.append(_tgpp_u32(SUBSCRIBER_STATUS, SUBSCRIBER_STATUS_SERVICE_GRANTED))
    members += [_tgpp_u32(NETWORK_ACCESS_MODE, NETWORK_ACCESS_MODE_ONLY_PACKET), _ambr(s.ambr_ul, s.ambr_dl)]
    configs = []
    for i, name in enumerate(s.apns, start=1):
        p = apn_profiles.get(name) or ApnProfile(name)
        arp = avp.grouped(ALLOCATION_RETENTION_PRIORITY, [
            _tgpp_u32(PRIORITY_LEVEL, p.arp_priority),
            _tgpp_u32(PRE_EMPTION_CAPABILITY, 0 if p.preemption_capable else 1),  # §7.3.41: 0 = ENABLED
            _tgpp_u32(PRE_EMPTION_VULNERABILITY, 0 if p.preemption_vulnerable else 1)], TGPP)
        configs.append(avp.grouped(APN_CONFIGURATION, [
            _tgpp_u32(CONTEXT_IDENTIFIER, i),
            _tgpp_u32(PDN_TYPE, PDN_TYPES[p.pdn_type]),
            avp.utf8(SERVICE_SELECTION, name),
            avp.grouped(EPS_SUBSCRIBED_QOS_PROFILE, [_tgpp_u32(QOS_CLASS_IDENTIFIER, p.qci), arp], TGPP),
            _ambr(p.ambr_ul if p.ambr_ul is not None else s.ambr_ul,
                  p.ambr_dl if p.ambr_dl is not None else s.ambr_dl),
        ], TGPP))
    if configs:
        members.append(avp.grouped(APN_CONFIGURATION_PROFILE, [
            _tgpp_u32(CONTEXT_IDENTIFIER, 1),  # the default APN: the first of the subscriber's list
            _tgpp_u32(ALL_APN_CONFIG_INC_IND, 0),  # All_APN_CONFIGURATIONS_INCLUDED
            *configs], TGPP))
    return avp.grouped(SUBSCRIPTION_DATA, members, TGPP)


# --- answers ---------------------------------------------------------------------------------------------------

_VSAI = avp.grouped(VENDOR_SPECIFIC_APPLICATION_ID, [avp.u32(VENDOR_ID, TGPP), avp.u32(AUTH_APPLICATION_ID, APP_S6A)])
_NO_STATE = avp.u32(AUTH_SESSION_STATE, NO_STATE_MAINTAINED)


@dataclass(frozen=True, slots=True)
class Identity:
    origin_host: str
    origin_realm: str
    avps: tuple[Avp, Avp] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "avps", (avp.utf8(ORIGIN_HOST, self.origin_host),
                                          avp.utf8(ORIGIN_REALM, self.origin_realm)))


def answer(req: Message, me: Identity, result: Sequence[Avp], body: Iterable[Avp] = ()) -> Message:
    """An S6a answer: Session-Id, Vendor-Specific-Application-Id, the result, Auth-Session-State, Origin-*."""
    session = req.find(SESSION_ID)
    head = [session] if session is not None else []
    return req.answer([*head, _VSAI, *result, _NO_STATE, *me.avps, *body])


def success() -> list[Avp]:
    return [avp.u32(268, DIAMETER_SUCCESS)]


def experimental(code: int) -> list[Avp]:
    """Experimental-Result with vendor 3GPP (TS 29.272 §7.4.1)."""
    return [avp.grouped(297, [avp.u32(VENDOR_ID, TGPP), avp.u32(298, code)])]


class VectorsLike(Protocol):
    @property
    def eutran(self) -> Sequence[object]: ...

    @property
    def utran(self) -> Sequence[object]: ...

    @property
    def geran(self) -> Sequence[object]: ...


def authentication_info(v: VectorsLike) -> Avp:
    """Authentication-Info (§7.3.17): E-UTRAN vectors (§7.3.18), UTRAN (§7.3.19), GERAN (§7.3.20), numbered."""
    members = []
    item = 0
    for e in v.eutran:
        item += 1
        members.append(avp.grouped(E_UTRAN_VECTOR, [
            _tgpp_u32(ITEM_NUMBER, item), _tgpp(RAND, e.rand), _tgpp(XRES, e.xres),  # type: ignore[attr-defined]
            _tgpp(AUTN, e.autn), _tgpp(KASME, e.kasme)], TGPP))  # type: ignore[attr-defined]
    for u in v.utran:
        item += 1
        members.append(avp.grouped(UTRAN_VECTOR, [
            _tgpp_u32(ITEM_NUMBER, item), _tgpp(RAND, u.rand), _tgpp(XRES, u.xres),  # type: ignore[attr-defined]
            _tgpp(AUTN, u.autn), _tgpp(CONFIDENTIALITY_KEY, u.ck),  # type: ignore[attr-defined]
            _tgpp(INTEGRITY_KEY, u.ik)], TGPP))  # type: ignore[attr-defined]
    for g in v.geran:
        item += 1
        members.append(avp.grouped(GERAN_VECTOR, [
            _tgpp_u32(ITEM_NUMBER, item), _tgpp(RAND, g.rand), _tgpp(SRES, g.sres),  # type: ignore[attr-defined]
            _tgpp(KC, g.kc)], TGPP))  # type: ignore[attr-defined]
    return avp.grouped(AUTHENTICATION_INFO, members, TGPP)


# --- the application -----------------------------------------------------------------------------------------

class UnknownUser(Exception):
    """No subscriber with this IMSI (TS 29.272 §7.4.3 DIAMETER_ERROR_USER_UNKNOWN). Raised by an `Auc`."""


class ResyncFailed(Exception):
    """The AUTS of a resynchronisation request did not verify (TS 33.102 §6.3.5). Raised by an `Auc`."""


class Auc(Protocol):
    async def vectors(self, imsi: str, serving_network: bytes, eutran: int = 1, utran: int = 0, geran: int = 0,
                      resync_info: bytes | None = None) -> VectorsLike: ...


class Registrations(Protocol):
    async def profile(self, imsi: str) -> SubscriberProfile | None: ...

    async def register(self, imsi: str, mme_host: str, mme_realm: str) -> tuple[str, str] | None:
        """Record the serving MME; returns the previous one (host, realm) when it was another."""

    async def purge(self, imsi: str, mme_host: str) -> bool | None:
        """Mark the UE purged by this MME; True when it was the registered MME, None for an unknown IMSI."""


Outcome = Callable[[str, str], None]  # (command, result label) for metrics


class S6a:
    """The S6a handlers. `is_allowed(plmn digits)` decides roaming; `cancel(host, realm, imsi)` sends a CLR to a
    previous MME (fire and forget) when one is known."""

    def __init__(self, me: Identity, auc: Auc, registrations: Registrations, *,
                 allowed_plmns: frozenset[str] = frozenset(), apn_profiles: dict[str, ApnProfile] | None = None,
                 max_vectors: int = MAX_VECTORS, utran_as_geran: bool = False,
                 cancel: Callable[[str, str, str], Awaitable[None] | None] | None = None,
                 outcome: Outcome | None = None, vector_latency: Callable[[float], None] | None = None) -> None:
        self.me = me
        self.auc = auc
        self.registrations = registrations
        self.allowed_plmns = allowed_plmns
        self.apn_profiles = apn_profiles or {}
        self.max_vectors = max_vectors
        self.utran_as_geran = utran_as_geran
        self.cancel = cancel
        self.outcome = outcome or (lambda command, result: None)
        self.vector_latency = vector_latency

    def _roaming_refused(self, plmn: bytes) -> bool:
        """TS 29.272 §5.2.1.1.3 / §5.2.3.1.3: a PLMN outside the home and roaming lists is refused."""
        return bool(self.allowed_plmns) and plmn_digits(plmn) not in self.allowed_plmns

    def _refuse(self, req: Message, command: str, code: int, label: str) -> Message:
        self.outcome(command, label)
        return answer(req, self.me, experimental(code))

    async def air(self, req: Message) -> Message:
        """TS 29.272 §5.2.3.1.3 detailed behaviour of the HSS for Authentication Information."""
        r = parse_air(req, self.max_vectors)
        if self._roaming_refused(r.plmn):
            return self._refuse(req, "AIR", DIAMETER_ERROR_ROAMING_NOT_ALLOWED, "roaming_not_allowed")
        eutran = r.eutran if r.eutran or r.utran else 1
        utran, geran = (0, r.utran) if self.utran_as_geran else (r.utran, 0)
        started = time.perf_counter()
        try:
            v = await self.auc.vectors(r.imsi, r.plmn, eutran, utran, geran, r.resync_info)
        except UnknownUser:
            return self._refuse(req, "AIR", DIAMETER_ERROR_USER_UNKNOWN, "user_unknown")
        except ResyncFailed:
            # §5.2.3.1.3: when no vectors can be returned, DIAMETER_AUTHENTICATION_DATA_UNAVAILABLE
            return self._refuse(req, "AIR", DIAMETER_AUTHENTICATION_DATA_UNAVAILABLE, "resync_failed")
        if self.vector_latency is not None:
            self.vector_latency(time.perf_counter() - started)
        self.outcome("AIR", "resync" if r.resync_info is not None else "success")
        return answer(req, self.me, success(), [authentication_info(v)])

    async def ulr(self, req: Message) -> Message:
        """TS 29.272 §5.2.1.1.3 detailed behaviour of the HSS for Update Location."""
        r = parse_ulr(req)
        profile = await self.registrations.profile(r.imsi)
        if profile is None:
            return self._refuse(req, "ULR", DIAMETER_ERROR_USER_UNKNOWN, "user_unknown")
        if not profile.apns:  # no EPS subscription data
            return self._refuse(req, "ULR", DIAMETER_ERROR_UNKNOWN_EPS_SUBSCRIPTION, "unknown_eps_subscription")
        if self._roaming_refused(r.plmn):
            return self._refuse(req, "ULR", DIAMETER_ERROR_ROAMING_NOT_ALLOWED, "roaming_not_allowed")
        if r.rat_type is not None and r.rat_type != RAT_TYPE_EUTRAN and r.flags & ULR_S6A_S6D_INDICATOR:
            return self._refuse(req, "ULR", DIAMETER_ERROR_RAT_NOT_ALLOWED, "rat_not_allowed")
        previous = await self.registrations.register(r.imsi, r.origin_host, r.origin_realm)
        if previous is not None and self.cancel is not None:
            # §5.2.1.1.3: a new MME registers; the HSS cancels the location at the old one (CLR, §5.2.1.2)
            pending = self.cancel(previous[0], previous[1], r.imsi)
            if pending is not None:
                await pending
        body = [_tgpp_u32(ULA_FLAGS, ULA_SEPARATION_INDICATION)]
        if not r.flags & ULR_SKIP_SUBSCRIBER_DATA:  # §7.3.7 bit 2: the MME already has the data
            body.append(subscription_data(profile, self.apn_profiles))
        self.outcome("ULR", "success")
        return answer(req, self.me, success(), body)

    async def pur(self, req: Message) -> Message:
        """TS 29.272 §5.2.1.3.3 detailed behaviour of the HSS for Purge UE."""
        imsi = _imsi(req)
        host = req.find(ORIGIN_HOST)
        purged = await self.registrations.purge(imsi, host.utf8 if host else "")
        if purged is None:
            return self._refuse(req, "PUR", DIAMETER_ERROR_USER_UNKNOWN, "user_unknown")
        # §5.2.1.3.3: Freeze M-TMSI when the purging MME is the one registered
        body = [_tgpp_u32(PUA_FLAGS, PUA_FREEZE_M_TMSI if purged else 0)]
        self.outcome("PUR", "success")
        return answer(req, self.me, success(), body)


def make_clr(me: Identity, host: str, realm: str, imsi: str, session_id: str) -> Message:
    """Cancel-Location-Request to a previous MME (TS 29.272 §7.2.7), Cancellation-Type MME_UPDATE_PROCEDURE."""
    return Message(CMD_CANCEL_LOCATION, APP_S6A, 0xC0, 0, 0, [
        avp.utf8(SESSION_ID, session_id), _VSAI, _NO_STATE, *me.avps, avp.utf8(293, host), avp.utf8(283, realm),
        avp.utf8(USER_NAME, imsi), _tgpp_u32(CANCELLATION_TYPE, CANCELLATION_MME_UPDATE_PROCEDURE)])


__all__ = [
    "APP_S6A", "ApnProfile", "AuthRequest", "Identity", "LocationRequest", "ResyncFailed", "S6a", "SubscriberProfile",
    "UnknownUser",
    "authentication_info", "make_clr", "parse_air", "parse_ulr", "plmn_digits", "subscription_data", "tbcd",
]
