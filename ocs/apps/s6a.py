"""S6a (3GPP TS 29.272, application 16777251): the HSS side of Authentication-Information, Update-Location and
Purge-UE for an MME.

Requests are read by AVP name (`parse_air`, `parse_ulr`) and answers built by name (`aia` body, `ula` body, ...)
from the shipped dictionaries (dictionaries/diameter/tgpp_s6a.toml): this module holds no AVP code. `S6a`
binds the decisions to the AuC service and the subscriber registry. A refusal is a domain error
(ocs.subscribers.errors) that the table in ocs.apps.errors turns into a result code, and `S6a.refuse` into an
answer (TS 29.272 §5.2, §7.4): Experimental-Result with vendor 10415, and the answer still carries
Auth-Session-State (required in every S6a answer, §7.2).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple, Protocol

from ocs.apps.dispatch import Context, Handler
from ocs.apps.s6a_data import (
    APP_S6A,
    TGPP,
    _d,
    subscription_data,
    tbcd,
)
from ocs.apps.s6a_vectors import AuthInfoWriter, VectorsLike
from ocs.diameter.answers import error_answer
from ocs.diameter.avp import Avp, constant
from ocs.diameter.capabilities import Application
from ocs.diameter.codes import DIAMETER_INVALID_AVP_LENGTH, DIAMETER_INVALID_AVP_VALUE, DIAMETER_SUCCESS
from ocs.diameter.dictionary import Dictionary
from ocs.diameter.errors import DiameterError
from ocs.diameter.message import Message
from ocs.subscribers.errors import (
    DomainError,
    NoSubscription,
    RatNotAllowed,
    ResyncFailed,
    RoamingNotAllowed,
    StoreUnavailable,
    UnknownUser,
)
from ocs.subscribers.identities import is_imsi
from ocs.subscribers.profiles import ApnProfile, SubscriberProfile

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
CANCELLATION_MME_UPDATE_PROCEDURE = 0  # §7.3.24
RAT_TYPE_EUTRAN = 1004  # TS 29.212 §5.3.31
MAX_VECTORS = 5

# What an outcome is called in the s6a_requests_total metric
_LABELS: dict[type[Exception], str] = {
    UnknownUser: "user_unknown", ResyncFailed: "resync_failed", RoamingNotAllowed: "roaming_not_allowed",
    NoSubscription: "unknown_eps_subscription", RatNotAllowed: "rat_not_allowed",
    StoreUnavailable: "store_unavailable",
}


# --- requests ------------------------------------------------------------------------------------------------

def _imsi(r: Any) -> str:
    imsi: str = r["User-Name"]
    if not is_imsi(imsi):  # TS 23.003 §2.2
        raise DiameterError(DIAMETER_INVALID_AVP_VALUE, f"User-Name {imsi!r} is not an IMSI", r.avp("User-Name"))
    return imsi


def _plmn(r: Any) -> bytes:
    plmn: bytes = r["Visited-PLMN-Id"]
    if len(plmn) != 3:
        raise DiameterError(DIAMETER_INVALID_AVP_LENGTH, "Visited-PLMN-Id is 3 octets (TS 29.272 §7.3.9)",
                            r.avp("Visited-PLMN-Id"))
    return plmn


def plmn_digits(plmn: bytes) -> str:
    """MCC+MNC digits of a PLMN id in TS 24.008 §10.5.1.3 order (MCC2|MCC1, MNC3|MCC3, MNC2|MNC1)."""
    mcc = f"{plmn[0] & 0xF}{plmn[0] >> 4}{plmn[1] & 0xF}"
    mnc = f"{plmn[2] & 0xF}{plmn[2] >> 4}"
    if plmn[1] >> 4 != 0xF:
        mnc += f"{plmn[1] >> 4}"
    return mcc + mnc


class AuthRequest(NamedTuple):  # one per AIR: a named tuple costs half a frozen dataclass (issue 15)
    imsi: str
    plmn: bytes
    eutran: int  # vectors asked for, capped
    utran: int
    resync_info: bytes | None  # RAND || AUTS (§7.3.15), from either request group


def _requested(group: Any, cap: int) -> tuple[int, bytes | None]:
    """(vectors asked for, capped; Re-Synchronization-Info or None) of one Requested-*-Authentication-Info."""
    if group is None:
        return 0, None
    return min(group.get("Number-Of-Requested-Vectors", 1), cap), group.get("Re-Synchronization-Info")


def parse_air(req: Message, max_vectors: int = MAX_VECTORS, dictionary: Dictionary | None = None) -> AuthRequest:
    """TS 29.272 §7.2.5; §5.2.3.1.3: vectors of each kind only when that kind is requested."""
    return _air(_d(dictionary).read(req), max_vectors)


def _air(r: Any, max_vectors: int) -> AuthRequest:
    eutran, resync_e = _requested(r.get("Requested-EUTRAN-Authentication-Info"), max_vectors)
    utran, resync_u = _requested(r.get("Requested-UTRAN-GERAN-Authentication-Info"), max_vectors)
    resync = resync_u if resync_u is not None else resync_e
    return AuthRequest(_imsi(r), _plmn(r), eutran, utran, resync)


@dataclass(frozen=True, slots=True)
class LocationRequest:
    imsi: str
    plmn: bytes
    flags: int
    rat_type: int | None
    origin_host: str
    origin_realm: str


def parse_ulr(req: Message, dictionary: Dictionary | None = None) -> LocationRequest:
    """TS 29.272 §7.2.3."""
    r = _d(dictionary).read(req)
    return LocationRequest(_imsi(r), _plmn(r), r.get("ULR-Flags", 0), r.get("RAT-Type"), r.get("Origin-Host", ""),
                           r.get("Origin-Realm", ""))


# --- answers ---------------------------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True)
class Identity:
    origin_host: str
    origin_realm: str


# TS 29.272 §7.2: every S6a message names the application vendor-specifically
_VSAI = {"Vendor-Id": TGPP, "Auth-Application-Id": APP_S6A}


@dataclass(frozen=True, slots=True)
class Frame:
    """What never changes in this HSS's answers, encoded once: VSAI, Result-Code 2001, Auth-Session-State, Origin-*."""
    vsai: Avp
    success: Avp
    tail: tuple[Avp, ...]


def frame(me: Identity, dictionary: Dictionary | None = None) -> Frame:
    d = _d(dictionary)
    vsai, ok, *tail = d.build([("Vendor-Specific-Application-Id", _VSAI), ("Result-Code", DIAMETER_SUCCESS),
                               ("Auth-Session-State", NO_STATE_MAINTAINED), ("Origin-Host", me.origin_host),
                               ("Origin-Realm", me.origin_realm)])
    return Frame(constant(vsai), constant(ok), tuple(constant(a) for a in tail))


def answer(req: Message, f: Frame | Identity, result: Sequence[Avp] | None = None, body: Iterable[Avp] = (),
           dictionary: Dictionary | None = None) -> Message:
    """An S6a answer: Session-Id, Vendor-Specific-Application-Id, the result (success unless given),
    Auth-Session-State, Origin-*, then `body`."""
    f = f if isinstance(f, Frame) else frame(f, dictionary)
    return _answer(req, f, _d(dictionary).read(req).avp("Session-Id"), result, body)


def _answer(req: Message, f: Frame, session: Avp | None, result: Sequence[Avp] | None,
            body: Iterable[Avp]) -> Message:
    head = [f.vsai] if session is None else [session, f.vsai]
    return req.answer([*head, *(result if result is not None else (f.success,)), *f.tail, *body])


def experimental(code: int, dictionary: Dictionary | None = None) -> list[Avp]:
    """Experimental-Result with vendor 3GPP (TS 29.272 §7.4.1)."""
    return _d(dictionary).build({"Experimental-Result": {"Vendor-Id": TGPP, "Experimental-Result-Code": code}})


def authentication_info(v: VectorsLike, dictionary: Dictionary | None = None) -> Avp:
    """Authentication-Info (§7.3.17): E-UTRAN vectors (§7.3.18), UTRAN (§7.3.19), GERAN (§7.3.20), numbered."""
    items = itertools.count(1)
    return _d(dictionary).build({"Authentication-Info": {
        "E-UTRAN-Vector": [{"Item-Number": next(items), "RAND": e.rand, "XRES": e.xres, "AUTN": e.autn,
                            "KASME": e.kasme} for e in v.eutran],
        "UTRAN-Vector": [{"Item-Number": next(items), "RAND": u.rand, "XRES": u.xres, "AUTN": u.autn,
                          "Confidentiality-Key": u.ck, "Integrity-Key": u.ik} for u in v.utran],
        "GERAN-Vector": [{"Item-Number": next(items), "RAND": g.rand, "SRES": g.sres, "Kc": g.kc}
                         for g in v.geran],
    }})[0]


def make_clr(me: Identity, host: str, realm: str, imsi: str, session_id: str,
             dictionary: Dictionary | None = None) -> Message:
    """Cancel-Location-Request to a previous MME (TS 29.272 §7.2.7), Cancellation-Type MME_UPDATE_PROCEDURE."""
    d = _d(dictionary)
    return d.request("Cancel-Location", APP_S6A, {
        "Session-Id": session_id, "Vendor-Specific-Application-Id": _VSAI, "Auth-Session-State": NO_STATE_MAINTAINED,
        "Origin-Host": me.origin_host, "Origin-Realm": me.origin_realm, "Destination-Host": host,
        "Destination-Realm": realm, "User-Name": imsi, "Cancellation-Type": CANCELLATION_MME_UPDATE_PROCEDURE})


# --- the application -----------------------------------------------------------------------------------------

class Auc(Protocol):
    def vectors(self, imsi: str, serving_network: bytes, eutran: int = 1, utran: int = 0, geran: int = 0,
                resync_info: bytes | None = None) -> Awaitable[VectorsLike]: ...


class Registrations(Protocol):
    async def profile(self, imsi: str) -> SubscriberProfile | None: ...

    async def register(self, imsi: str, mme_host: str, mme_realm: str) -> tuple[str, str] | None:
        """Record the serving MME; returns the previous one (host, realm) when it was another."""

    async def purge(self, imsi: str, mme_host: str) -> bool | None:
        """Mark the UE purged by this MME; True when it was the registered MME, None for an unknown IMSI."""


Outcome = Callable[[str, str], None]  # (command, result label) for metrics
Event = Callable[..., None]  # log(event, **fields), given by the daemon
_COMMANDS = {"Authentication-Information": "AIR", "Update-Location": "ULR", "Purge-UE": "PUR"}


class S6a:
    """The S6a handlers. `spawn(awaitable)` runs a CLR to a previous MME in the background (fire and forget);
    `log(event, **fields)` reports what happened to it."""

    name = "s6a"
    application = Application(APP_S6A, TGPP)

    def __init__(self, me: Identity, auc: Auc, registrations: Registrations, *,
                 allowed_plmns: frozenset[str] = frozenset(), apn_profiles: dict[str, ApnProfile] | None = None,
                 max_vectors: int = MAX_VECTORS, utran_as_geran: bool = False,
                 spawn: Callable[[Awaitable[None]], None] | None = None, log: Event | None = None,
                 outcome: Outcome | None = None, vector_latency: Callable[[float], None] | None = None,
                 dictionary: Dictionary | None = None) -> None:
        self.me = me
        self.auc = auc
        self.registrations = registrations
        self.allowed_plmns = allowed_plmns
        self.apn_profiles = apn_profiles or {}
        self.max_vectors = max_vectors
        self.utran_as_geran = utran_as_geran
        self.spawn = spawn
        self.log: Event = log or (lambda event, **fields: None)
        self.outcome = outcome or (lambda command, result: None)
        self.vector_latency = vector_latency
        self.d = _d(dictionary)
        self._frame = frame(me, self.d)
        self._plmn_refused: dict[bytes, bool] = {}  # Visited-PLMN-Id -> refused (a bounded cache)
        self._auth_info = AuthInfoWriter(self.d)  # authentication_info's octets, written without the builder
        self._commands = {self.d.command_named(n, APP_S6A).code: label for n, label in _COMMANDS.items()}
        self._sessions = itertools.count(1)

    def routes(self) -> list[tuple[int, str, Handler]]:
        handlers = {"AIR": self.air, "ULR": self.ulr, "PUR": self.pur}
        return [(code, label, handlers[label]) for code, label in self._commands.items()]

    def refuse(self, request: Message, error: DiameterError, cause: Exception | None) -> Message:
        """TS 29.272 §7.4: a vendor result is an S6a answer with Experimental-Result (no E bit, RFC 6733 §7.1);
        a base protocol error is the base error answer (RFC 6733 §7.2)."""
        if isinstance(cause, DomainError):
            self.outcome(self._commands.get(request.command_code, "?"), _LABELS.get(type(cause), "error"))
        if error.vendor_id:
            return answer(request, self._frame, experimental(error.result_code, self.d), dictionary=self.d)
        return error_answer(request, self.me.origin_host, self.me.origin_realm, error)

    def _roaming_refused(self, plmn: bytes) -> bool:
        """TS 29.272 §5.2.1.1.3 / §5.2.3.1.3: a PLMN outside the home and roaming lists is refused."""
        if not self.allowed_plmns:
            return False
        refused = self._plmn_refused.get(plmn)
        if refused is None:  # a handful of PLMNs in practice: the digits are formatted once per PLMN
            if len(self._plmn_refused) >= 1024:
                self._plmn_refused.clear()
            refused = self._plmn_refused[plmn] = plmn_digits(plmn) not in self.allowed_plmns
        return refused

    def _answer(self, req: Message, body: Iterable[Avp] = ()) -> Message:
        return answer(req, self._frame, None, body, self.d)

    async def air(self, req: Message, ctx: Context | None = None) -> Message:
        """TS 29.272 §5.2.3.1.3 detailed behaviour of the HSS for Authentication Information."""
        read = self.d.read(req)  # one Group for the request and the answer's Session-Id
        r = _air(read, self.max_vectors)
        if self._roaming_refused(r.plmn):
            raise RoamingNotAllowed(plmn_digits(r.plmn))
        eutran = r.eutran if r.eutran or r.utran else 1
        utran, geran = (0, r.utran) if self.utran_as_geran else (r.utran, 0)
        started = time.perf_counter()
        # UnknownUser; ResyncFailed: §5.2.3.1.3, no vectors can be returned (the error table gives 4181)
        v = await self.auc.vectors(r.imsi, r.plmn, eutran, utran, geran, r.resync_info)
        if self.vector_latency is not None:
            self.vector_latency(time.perf_counter() - started)
        self.outcome("AIR", "resync" if r.resync_info is not None else "success")
        return _answer(req, self._frame, read.avp("Session-Id"), None, (self._auth_info(v),))

    async def ulr(self, req: Message, ctx: Context | None = None) -> Message:
        """TS 29.272 §5.2.1.1.3 detailed behaviour of the HSS for Update Location."""
        r = parse_ulr(req, self.d)
        profile = await self.registrations.profile(r.imsi)
        if profile is None:
            raise UnknownUser(r.imsi)
        if not profile.apns:  # no EPS subscription data
            raise NoSubscription(r.imsi)
        if self._roaming_refused(r.plmn):
            raise RoamingNotAllowed(plmn_digits(r.plmn))
        if r.rat_type is not None and r.rat_type != RAT_TYPE_EUTRAN and r.flags & ULR_S6A_S6D_INDICATOR:
            raise RatNotAllowed(str(r.rat_type))
        previous = await self.registrations.register(r.imsi, r.origin_host, r.origin_realm)
        if previous is not None and ctx is not None and self.spawn is not None:
            # §5.2.1.1.3: a new MME registers; the HSS cancels the location at the old one (CLR, §5.2.1.2)
            self.spawn(self._cancel(ctx, previous[0], previous[1], r.imsi))
        body = self.d.build({"ULA-Flags": ULA_SEPARATION_INDICATION})
        if not r.flags & ULR_SKIP_SUBSCRIBER_DATA:  # §7.3.7 bit 2: the MME already has the data
            body.append(subscription_data(profile, self.apn_profiles, self.d))
        self.outcome("ULR", "success")
        return self._answer(req, body)

    async def _cancel(self, ctx: Context, host: str, realm: str, imsi: str) -> None:
        clr = make_clr(self.me, host, realm, imsi,
                       f"{self.me.origin_host};{int(time.time())};{next(self._sessions)}", self.d)
        try:
            cla = await ctx.request(clr, to=host)
        except ConnectionError:
            self.log("clr-skipped", peer=host, reason="peer not connected")
            return
        except TimeoutError as e:
            self.log("clr-failed", peer=host, error=str(e))
            return
        self.log("clr-answered", peer=host, result=self.d.read(cla).get("Result-Code"))

    async def pur(self, req: Message, ctx: Context | None = None) -> Message:
        """TS 29.272 §5.2.1.3.3 detailed behaviour of the HSS for Purge UE."""
        r = self.d.read(req)
        imsi = _imsi(r)
        purged = await self.registrations.purge(imsi, r.get("Origin-Host", ""))
        if purged is None:
            raise UnknownUser(imsi)
        # §5.2.1.3.3: Freeze M-TMSI when the purging MME is the one registered
        self.outcome("PUR", "success")
        return self._answer(req, self.d.build({"PUA-Flags": PUA_FREEZE_M_TMSI if purged else 0}))


__all__ = [
    "APP_S6A", "ApnProfile", "AuthRequest", "Identity", "LocationRequest", "ResyncFailed", "S6a", "SubscriberProfile",
    "UnknownUser",
    "authentication_info", "make_clr", "parse_air", "parse_ulr", "plmn_digits", "subscription_data", "tbcd",
]
