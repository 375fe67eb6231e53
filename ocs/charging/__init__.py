"""Charging rules, pure: values, rating arithmetic, errors. The Redis scripts and the service layer apply them."""

from ocs.charging.errors import (
    AccountExists,
    BundleExists,
    ChargingError,
    CurrencyMismatch,
    DuplicateReference,
    GiftRefunded,
    InsufficientFunds,
    InvalidAmount,
    InvalidCurrency,
    InvalidRecipient,
    InvalidReference,
    UnknownAccount,
    UnknownBundle,
    UnknownSubscriber,
    UnknownTariff,
)
from ocs.charging.model import (
    AccountView,
    ActiveBundle,
    Allowances,
    BundleDefinition,
    BundleKind,
    CommitResult,
    Dimension,
    GiftResult,
    Grant,
    LedgerEntry,
    LedgerKind,
    MoneyResult,
    PurchaseResult,
    Sim,
    Tariff,
    Unit,
    UpdateResult,
)

__all__ = [
    "AccountExists", "AccountView", "ActiveBundle", "Allowances", "BundleDefinition", "BundleExists", "BundleKind",
    "ChargingError", "CommitResult", "CurrencyMismatch", "Dimension", "DuplicateReference", "GiftRefunded",
    "GiftResult", "Grant", "InsufficientFunds", "InvalidAmount", "InvalidCurrency", "InvalidRecipient",
    "InvalidReference", "LedgerEntry", "LedgerKind", "MoneyResult", "PurchaseResult", "Sim", "Tariff", "Unit",
    "UnknownAccount", "UnknownBundle", "UnknownSubscriber", "UnknownTariff", "UpdateResult",
]
