"""ISO 4217 currency codes, pure data: the code -> the number of digits of its minor unit.

Balances, prices and tariffs are integers in minor units (cents for EUR: 2 digits; JPY has none), so only
currencies that have a minor unit are listed: the fund, precious-metal and testing codes (XAU, XDR, XTS, XXX,
...) are not money an account can hold. Source: ISO 4217 list one (SIX, amendment 179, 2025). Used by the
config (`[charging] currency`), `tariff set`, `bundle create` and accounts.
"""

from __future__ import annotations

import re

from ocs.charging.errors import InvalidCurrency

MINOR_UNITS: dict[str, int] = {
    "AED": 2, "AFN": 2, "ALL": 2, "AMD": 2, "ANG": 2, "AOA": 2, "ARS": 2, "AUD": 2, "AWG": 2, "AZN": 2,
    "BAM": 2, "BBD": 2, "BDT": 2, "BGN": 2, "BHD": 3, "BIF": 0, "BMD": 2, "BND": 2, "BOB": 2, "BOV": 2,
    "BRL": 2, "BSD": 2, "BTN": 2, "BWP": 2, "BYN": 2, "BZD": 2, "CAD": 2, "CDF": 2, "CHE": 2, "CHF": 2,
    "CHW": 2, "CLF": 4, "CLP": 0, "CNY": 2, "COP": 2, "COU": 2, "CRC": 2, "CUC": 2, "CUP": 2, "CVE": 2,
    "CZK": 2, "DJF": 0, "DKK": 2, "DOP": 2, "DZD": 2, "EGP": 2, "ERN": 2, "ETB": 2, "EUR": 2, "FJD": 2,
    "FKP": 2, "GBP": 2, "GEL": 2, "GHS": 2, "GIP": 2, "GMD": 2, "GNF": 0, "GTQ": 2, "GYD": 2, "HKD": 2,
    "HNL": 2, "HTG": 2, "HUF": 2, "IDR": 2, "ILS": 2, "INR": 2, "IQD": 3, "IRR": 2, "ISK": 0, "JMD": 2,
    "JOD": 3, "JPY": 0, "KES": 2, "KGS": 2, "KHR": 2, "KMF": 0, "KPW": 2, "KRW": 0, "KWD": 3, "KYD": 2,
    "KZT": 2, "LAK": 2, "LBP": 2, "LKR": 2, "LRD": 2, "LSL": 2, "LYD": 3, "MAD": 2, "MDL": 2, "MGA": 2,
    "MKD": 2, "MMK": 2, "MNT": 2, "MOP": 2, "MRU": 2, "MUR": 2, "MVR": 2, "MWK": 2, "MXN": 2, "MXV": 2,
    "MYR": 2, "MZN": 2, "NAD": 2, "NGN": 2, "NIO": 2, "NOK": 2, "NPR": 2, "NZD": 2, "OMR": 3, "PAB": 2,
    "PEN": 2, "PGK": 2, "PHP": 2, "PKR": 2, "PLN": 2, "PYG": 0, "QAR": 2, "RON": 2, "RSD": 2, "RUB": 2,
    "RWF": 0, "SAR": 2, "SBD": 2, "SCR": 2, "SDG": 2, "SEK": 2, "SGD": 2, "SHP": 2, "SLE": 2, "SLL": 2,
    "SOS": 2, "SRD": 2, "SSP": 2, "STN": 2, "SVC": 2, "SYP": 2, "SZL": 2, "THB": 2, "TJS": 2, "TMT": 2,
    "TND": 3, "TOP": 2, "TRY": 2, "TTD": 2, "TWD": 2, "TZS": 2, "UAH": 2, "UGX": 0, "USD": 2, "USN": 2,
    "UYI": 0, "UYU": 2, "UYW": 4, "UZS": 2, "VED": 2, "VES": 2, "VND": 0, "VUV": 0, "WST": 2, "XAF": 0,
    "XCD": 2, "XCG": 2, "XOF": 0, "XPF": 0, "YER": 2, "ZAR": 2, "ZMW": 2, "ZWG": 2, "ZWL": 2,
}


def check_currency(code: str) -> str:
    """`code` if it is an ISO 4217 currency code (upper case, as the standard writes it), else InvalidCurrency."""
    if code not in MINOR_UNITS:
        raise InvalidCurrency(f"currency {code!r} is not an ISO 4217 code (e.g. EUR, USD, KES)")
    return code


def format_major(minor: int, code: str) -> str:
    """An amount in minor units written in the currency's major units: (1500, "USD") -> "15.00", (1500, "JPY")
    -> "1500", (-1, "BHD") -> "-0.001" (the digits of ISO 4217's minor unit, always all of them)."""
    digits = MINOR_UNITS[check_currency(code)]
    sign, whole = ("-" if minor < 0 else ""), abs(minor)
    if digits == 0:
        return f"{sign}{whole}"
    units, cents = divmod(whole, 10**digits)
    return f"{sign}{units}.{cents:0{digits}d}"


def parse_major(text: str, code: str) -> int:
    """An amount written in major units ("15", "15.5", "15.00", "-0.001") as an integer of minor units; more
    decimals than the currency has is refused (ValueError, as InvalidCurrency is)."""
    digits = MINOR_UNITS[check_currency(code)]
    m = _AMOUNT.fullmatch(text.strip())
    if m is None or not (m["units"] or m["cents"]):
        raise ValueError(f"{text!r} is not an amount (e.g. 15.00)")
    cents = m["cents"] or ""
    if len(cents) > digits:
        raise ValueError(f"{text!r}: {code} has {digits} decimal{'' if digits == 1 else 's'}")
    minor = int(m["units"] or "0") * 10**digits + int(cents.ljust(digits, "0") or "0")
    return -minor if m["sign"] == "-" else minor


_AMOUNT = re.compile(r"(?P<sign>[+-]?)(?P<units>[0-9]*)(?:\.(?P<cents>[0-9]+))?")


__all__ = ["MINOR_UNITS", "check_currency", "format_major", "parse_major"]
