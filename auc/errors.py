"""Errors of the authentication centre maths. Messages never carry key material."""

from __future__ import annotations


class AucError(ValueError):
    """Base of the errors raised by `auc` (a ValueError: every one is about a bad input)."""


class AutsError(AucError):
    """An AUTS whose MAC-S does not verify (TS 33.102 §6.3.5): forged, corrupted, or for another RAND/K."""
