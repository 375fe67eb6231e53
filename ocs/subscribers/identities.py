"""Identities that point at a subscriber or an account: IMSI (TS 23.003 §2.2), MSISDN (E.164)."""

from __future__ import annotations


def is_imsi(value: str) -> bool:
    """TS 23.003 §2.2: MCC (3) + MNC (2-3) + MSIN, at most 15 digits; 6 is the shortest we accept."""
    return value.isdigit() and 6 <= len(value) <= 15


def is_msisdn(value: str) -> bool:
    """ITU-T E.164: at most 15 digits, country code first."""
    return value.isdigit() and 1 <= len(value) <= 15


__all__ = ["is_imsi", "is_msisdn"]
