"""Pure domain values shared by the applications, the services and the store: identities, profiles, errors."""

from ocs.subscribers.errors import (
    Blocked,
    DomainError,
    NoSubscription,
    RatNotAllowed,
    ResyncFailed,
    RoamingNotAllowed,
    StoreUnavailable,
    UnknownSession,
    UnknownUser,
)
from ocs.subscribers.identities import is_imsi, is_msisdn
from ocs.subscribers.profiles import ApnProfile, SubscriberProfile

__all__ = [
    "ApnProfile", "Blocked", "DomainError", "NoSubscription", "RatNotAllowed", "ResyncFailed", "RoamingNotAllowed",
    "StoreUnavailable", "SubscriberProfile", "UnknownSession", "UnknownUser", "is_imsi", "is_msisdn",
]
