"""A subscriber's profile as the network applications see it: APNs, aggregate bit rates, status."""

from __future__ import annotations

from dataclasses import dataclass


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


__all__ = ["ApnProfile", "SubscriberProfile"]
