"""Hotspot domain errors: why a voucher or hotspot user may not log in, in the operator's terms.

The error table (ocs.apps.errors) turns each into an Access-Reject whose Reply-Message a person can read
(the hotspot login page shows it).
"""

from __future__ import annotations

from ocs.subscribers.errors import DomainError


class HotspotRefusal(DomainError):
    """Base of the reasons a hotspot login is refused."""


class UnknownVoucher(HotspotRefusal):
    """No voucher or hotspot user with this code (or the password does not match)."""


class VoucherExpired(HotspotRefusal):
    """The validity after first login has ended."""


class VoucherUsedUp(HotspotRefusal):
    """The time or data allowance is used up."""


class BoundToOtherDevice(HotspotRefusal):
    """The voucher is bound to the MAC address of another device."""


class TooManyDevices(HotspotRefusal):
    """As many devices as the package allows are online already."""


__all__ = ["BoundToOtherDevice", "HotspotRefusal", "TooManyDevices", "UnknownVoucher", "VoucherExpired",
           "VoucherUsedUp"]
