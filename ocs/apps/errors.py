"""One table from domain errors to each application's result (issue 12 point 3, DESIGN §2b).

A handler raises a domain error (`ocs.subscribers.errors`, `ocs.charging.errors`); `result_for` gives the
Result-Code (or the vendor's Experimental-Result-Code) that error means in the application and command that
raised it. The application's `refuse` then writes the answer in its own shape. No handler writes these codes.
A row names an application and optionally a command; the most specific row wins, then the nearest base class.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ocs.charging.errors import (
    ChargingError,
    CurrencyMismatch,
    InsufficientFunds,
    UnknownSubscriber,
    UnknownTariff,
)
from ocs.diameter.codes import DIAMETER_TOO_BUSY, DIAMETER_UNKNOWN_SESSION_ID
from ocs.subscribers.errors import (
    Blocked,
    NoSubscription,
    RatNotAllowed,
    ResyncFailed,
    RoamingNotAllowed,
    StoreUnavailable,
    UnknownSession,
    UnknownUser,
)
from radius.errors import BoundToOtherDevice, TooManyDevices, UnknownVoucher, VoucherExpired, VoucherUsedUp

TGPP = 10415

# RFC 4006 §9.1 credit-control result codes
DIAMETER_END_USER_SERVICE_DENIED = 4010
DIAMETER_CREDIT_LIMIT_REACHED = 4012
DIAMETER_RATING_FAILED = 5031
DIAMETER_USER_UNKNOWN = 5030
# TS 29.272 §7.4.3 permanent and §7.4.4 transient failures (Experimental-Result-Code, vendor 10415)
DIAMETER_ERROR_USER_UNKNOWN = 5001
DIAMETER_ERROR_ROAMING_NOT_ALLOWED = 5004
DIAMETER_ERROR_UNKNOWN_EPS_SUBSCRIPTION = 5420
DIAMETER_ERROR_RAT_NOT_ALLOWED = 5421
DIAMETER_AUTHENTICATION_DATA_UNAVAILABLE = 4181


@dataclass(frozen=True, slots=True)
class Result:
    code: int
    vendor_id: int = 0  # non-zero: an Experimental-Result of this vendor (RFC 6733 §7.6)
    message: str = ""  # RADIUS: the Reply-Message of the Access-Reject, for a person to read


S6A, CREDIT_CONTROL = "s6a", "credit_control"  # credit control: Gy (RFC 4006, TS 32.299) and Gx (TS 29.212)
RADIUS = "radius"
# RADIUS results: an Access-Reject (RFC 2865 §4.3) with a Reply-Message (§5.18), or no reply at all (the NAS
# retransmits; RFC 2866 §2: no Accounting-Response unless the record was kept).
ACCESS_REJECT, SILENT_DROP = 3, 0

# (error, application, command or None) -> result
TABLE: Mapping[tuple[type[Exception], str, str | None], Result] = {
    (UnknownUser, S6A, None): Result(DIAMETER_ERROR_USER_UNKNOWN, TGPP),  # TS 29.272 §5.2.1.1.3, §5.2.3.1.3
    (UnknownSubscriber, S6A, None): Result(DIAMETER_ERROR_USER_UNKNOWN, TGPP),
    (RoamingNotAllowed, S6A, None): Result(DIAMETER_ERROR_ROAMING_NOT_ALLOWED, TGPP),
    (NoSubscription, S6A, None): Result(DIAMETER_ERROR_UNKNOWN_EPS_SUBSCRIPTION, TGPP),
    (RatNotAllowed, S6A, None): Result(DIAMETER_ERROR_RAT_NOT_ALLOWED, TGPP),
    (ResyncFailed, S6A, "AIR"): Result(DIAMETER_AUTHENTICATION_DATA_UNAVAILABLE, TGPP),  # §5.2.3.1.3
    # a store down or too slow: transient (RFC 6733 §7.1.3); for AIR the S6a transient code (§7.4.4)
    (StoreUnavailable, S6A, None): Result(DIAMETER_TOO_BUSY),
    (StoreUnavailable, S6A, "AIR"): Result(DIAMETER_AUTHENTICATION_DATA_UNAVAILABLE, TGPP),
    (UnknownUser, CREDIT_CONTROL, None): Result(DIAMETER_USER_UNKNOWN),  # RFC 4006 §9.1
    (UnknownSubscriber, CREDIT_CONTROL, None): Result(DIAMETER_USER_UNKNOWN),
    (InsufficientFunds, CREDIT_CONTROL, None): Result(DIAMETER_CREDIT_LIMIT_REACHED),
    (Blocked, CREDIT_CONTROL, None): Result(DIAMETER_END_USER_SERVICE_DENIED),
    (UnknownSession, CREDIT_CONTROL, None): Result(DIAMETER_UNKNOWN_SESSION_ID),  # RFC 6733 §7.1.5
    (UnknownTariff, CREDIT_CONTROL, None): Result(DIAMETER_RATING_FAILED),
    (CurrencyMismatch, CREDIT_CONTROL, None): Result(DIAMETER_RATING_FAILED),
    (StoreUnavailable, CREDIT_CONTROL, None): Result(DIAMETER_TOO_BUSY),
    (UnknownVoucher, RADIUS, None): Result(ACCESS_REJECT, message="Unknown code or wrong password"),
    (VoucherExpired, RADIUS, None): Result(ACCESS_REJECT, message="This code has expired"),
    (VoucherUsedUp, RADIUS, None): Result(ACCESS_REJECT, message="This code is used up"),
    (BoundToOtherDevice, RADIUS, None): Result(ACCESS_REJECT, message="This code is in use on another device"),
    (TooManyDevices, RADIUS, None): Result(ACCESS_REJECT,
                                           message="Too many devices are online with this code"),
    (Blocked, RADIUS, None): Result(ACCESS_REJECT, message="This account is blocked"),
    (StoreUnavailable, RADIUS, "Access-Request"): Result(ACCESS_REJECT,
                                                         message="Service unavailable, please try again"),
    (StoreUnavailable, RADIUS, "Accounting-Request"): Result(SILENT_DROP),
}


def result_for(error: BaseException, application: str, command: str) -> Result | None:
    """The result `error` means for `application`'s `command`; None when the table has no row for it."""
    for cls in type(error).__mro__:
        found = TABLE.get((cls, application, command)) or TABLE.get((cls, application, None))  # type: ignore[arg-type]
        if found is not None:
            return found
        if cls is ChargingError or cls is Exception:
            break
    return None


__all__ = ["ACCESS_REJECT", "CREDIT_CONTROL", "RADIUS", "Result", "S6A", "SILENT_DROP", "TABLE", "result_for"]
