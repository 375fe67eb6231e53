"""Domain errors: what went wrong in the operator's terms, not in a protocol's.

Services and stores raise them; each application's error table (ocs.apps.errors) turns one into that
application's answer (an S6a Experimental-Result, a credit-control Result-Code, ...), so no handler writes a
result code for them. `transient` errors mean "try again later" (the store is down or slow).
"""

from __future__ import annotations


class DomainError(Exception):
    """Base of the errors an application maps to an answer."""

    transient = False


class UnknownUser(DomainError):
    """No subscriber with this identity (TS 29.272 §7.4.3 DIAMETER_ERROR_USER_UNKNOWN)."""


class ResyncFailed(DomainError):
    """The AUTS of a resynchronisation request did not verify (TS 33.102 §6.3.5)."""


class NoSubscription(DomainError):
    """The subscriber has no data for the service asked for (e.g. no EPS subscription: no APN)."""


class RoamingNotAllowed(DomainError):
    """The serving network is neither home nor an allowed roaming partner."""


class RatNotAllowed(DomainError):
    """The radio access type is not allowed for the subscriber."""


class Blocked(DomainError):
    """The subscriber (or account) is barred by the operator."""


class UnknownSession(DomainError):
    """No session with this id (RFC 4006 §5.7 / RFC 6733 §7.1.5 DIAMETER_UNKNOWN_SESSION_ID)."""


class StoreUnavailable(DomainError):
    """Redis or PostgreSQL is down, hung or slower than its timeout: a transient failure (RFC 6733 §7.1.3)."""

    transient = True

    def __init__(self, store: str, detail: str = "") -> None:
        super().__init__(f"{store} unavailable: {detail}" if detail else f"{store} unavailable")
        self.store = store
        self.detail = detail


__all__ = [
    "Blocked", "DomainError", "NoSubscription", "RatNotAllowed", "ResyncFailed", "RoamingNotAllowed",
    "StoreUnavailable", "UnknownSession", "UnknownUser",
]
