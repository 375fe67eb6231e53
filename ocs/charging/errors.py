"""Charging errors: each carries a stable `code` string that the CLI, the admin port and the apps map to answers.

The Lua scripts refuse an operation with an error reply `OCS <code> <detail>`; `error_from_reply` turns it
back into the matching class. A refused operation changed nothing (scripts check before they write).
"""

from __future__ import annotations


class ChargingError(Exception):
    code = "charging_error"

    def __init__(self, detail: str = "") -> None:
        super().__init__(f"{self.code}: {detail}" if detail else self.code)
        self.detail = detail


class InsufficientFunds(ChargingError):
    code = "insufficient_funds"


class UnknownSubscriber(ChargingError):
    code = "unknown_subscriber"


class UnknownAccount(UnknownSubscriber):
    """No account with this id (or no account behind this IMSI/MSISDN)."""

    code = "unknown_account"


class UnknownBundle(ChargingError):
    code = "unknown_bundle"


class UnknownTariff(ChargingError):
    code = "unknown_tariff"


class DuplicateReference(ChargingError):
    """The reference was used before for a different operation or amount."""

    code = "duplicate_reference"


class AccountExists(ChargingError):
    code = "account_exists"


class CurrencyMismatch(ChargingError):
    code = "currency_mismatch"


class InvalidAmount(ChargingError):
    code = "invalid_amount"


class InvalidReference(ChargingError, ValueError):
    """A caller reference (top-up ref, gift id) that is empty, longer than 128 characters or not printable."""

    code = "invalid_reference"


class InvalidCurrency(ChargingError, ValueError):
    """Not an ISO 4217 currency code."""

    code = "invalid_currency"


class BundleExists(ChargingError):
    code = "bundle_exists"


class InvalidRecipient(ChargingError):
    """A gift to oneself (the same account), or to a subscriber without an account."""

    code = "invalid_recipient"


class GiftRefunded(ChargingError):
    """A retried gift whose recipient half failed earlier: the sender was refunded, nothing is credited."""

    code = "gift_refunded"


ERRORS: dict[str, type[ChargingError]] = {
    cls.code: cls
    for cls in (ChargingError, InsufficientFunds, UnknownSubscriber, UnknownAccount, UnknownBundle, UnknownTariff,
                DuplicateReference, AccountExists, CurrencyMismatch, InvalidAmount, InvalidCurrency, InvalidReference,
                BundleExists,
                InvalidRecipient, GiftRefunded)
}

REPLY_PREFIX = "OCS "


def error_from_reply(message: str) -> ChargingError | None:
    """`OCS insufficient_funds need 500` -> InsufficientFunds('need 500'); None for a reply not ours."""
    if not message.startswith(REPLY_PREFIX):
        return None
    code, _, detail = message[len(REPLY_PREFIX):].partition(" ")
    return ERRORS.get(code, ChargingError)(detail)
