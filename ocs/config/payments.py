"""`[payments]`, `[payments.mpesa]`, `[[payments.webhooks]]`, `[portal]` and `[notify]`: mobile money, signed
webhooks, the captive portal and notifications (issue 17). Pure: no I/O. Every key is documented with its
default in conf/ocsd.example.toml."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from ocs.config.table import ConfigError, Table

# Daraja's two Lipa na M-Pesa Online transaction types (STK push request, TransactionType).
MPESA_TRANSACTION_TYPES = ("CustomerPayBillOnline", "CustomerBuyGoodsOnline")
SIGNATURE_SCHEMES = ("hmac-sha256", "flutterwave")
_PROVIDER_NAME = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


@dataclass(frozen=True, slots=True)
class MpesaConfig:
    base_url: str = "https://sandbox.safaricom.co.ke"  # production: https://api.safaricom.co.ke
    consumer_key: str = field(default="", repr=False)
    consumer_secret: str = field(default="", repr=False)
    shortcode: str = ""
    passkey: str = field(default="", repr=False)
    transaction_type: str = "CustomerPayBillOnline"
    party_b: str = ""  # the till number for CustomerBuyGoodsOnline; the shortcode when empty
    callback_base_url: str = ""  # how Safaricom reaches this daemon's admin port, e.g. https://pay.example.com
    path_token: str = field(default="", repr=False)  # the secret part of the callback paths /hooks/mpesa/<token>/
    account_reference: str = "ocsd"  # AccountReference shown on the STK prompt (at most 12 characters)
    timeout: float = 10.0  # seconds for one HTTP request to Daraja


@dataclass(frozen=True, slots=True)
class WebhookProviderConfig:
    name: str  # the URL is /hooks/<name>
    secret: str = field(repr=False)
    scheme: str = "hmac-sha256"  # or "flutterwave" (header verif-hash equal to the secret hash)
    signature_header: str = "X-Signature"  # hmac-sha256: hex HMAC-SHA256 over "<timestamp>.<raw body>"
    timestamp_header: str = "X-Timestamp"  # hmac-sha256: unix seconds, checked against replay_window
    replay_window: int = 300  # seconds


@dataclass(frozen=True, slots=True)
class PaymentsConfig:
    mpesa: MpesaConfig | None = None
    webhooks: tuple[WebhookProviderConfig, ...] = ()
    reconcile_interval: float = 60.0  # seconds between passes of the reconcile job
    query_after: float = 60.0  # a pending STK push without callback is asked about (STK query) after this long
    give_up_after: float = 86400.0  # a pending STK push the query still cannot resolve is failed after this long
    apply_retries: int = 3  # attempts the callback worker makes before leaving a payment to reconcile


@dataclass(frozen=True, slots=True)
class PortalConfig:
    enabled: bool = False
    title: str = "Wi-Fi"
    css: str | None = None  # a CSS file replacing the default theme
    logo: str | None = None  # an image file shown on every page
    rate_limit: int = 30  # requests per minute per client IP on /portal/
    currency_label: str = ""  # shown beside prices; the currency code when empty
    router_hosts: tuple[str, ...] = ()  # hosts the voucher may be posted to (link-login-only); empty: any


@dataclass(frozen=True, slots=True)
class NotifyConfig:
    webhook_url: str | None = None
    timeout: float = 5.0
    expiry_notice_hours: int = 24  # notice this long before a package or bundle expires
    interval: float = 300.0  # seconds between passes of the expiry-notice job


def _parse_mpesa(t: Table) -> MpesaConfig:
    d = MpesaConfig()
    token = t.string("path_token")
    if len(token) < 16 or not re.fullmatch(r"[A-Za-z0-9_-]+", token):
        raise ConfigError(f"{t.key('path_token')}: must be at least 16 characters of [A-Za-z0-9_-]")
    shortcode = t.string("shortcode")
    if not shortcode.isdigit():
        raise ConfigError(f"{t.key('shortcode')}: must be digits, got {shortcode!r}")
    reference = t.string("account_reference", d.account_reference)
    if not 0 < len(reference) <= 12:  # Daraja STK push: AccountReference at most 12 characters
        raise ConfigError(f"{t.key('account_reference')}: must be 1 to 12 characters")
    mpesa = MpesaConfig(
        base_url=t.string("base_url", d.base_url).rstrip("/"),
        consumer_key=t.string("consumer_key"),
        consumer_secret=t.string("consumer_secret"),
        shortcode=shortcode,
        passkey=t.string("passkey"),
        transaction_type=t.choice("transaction_type", MPESA_TRANSACTION_TYPES, d.transaction_type),
        party_b=t.string("party_b", "", empty=True),
        callback_base_url=t.string("callback_base_url").rstrip("/"),
        path_token=token,
        account_reference=reference,
        timeout=t.number("timeout", d.timeout, positive=True),
    )
    t.finish()
    return mpesa


def _parse_webhook(t: Table) -> WebhookProviderConfig:
    d = WebhookProviderConfig("", "")
    name = t.string("name")
    if not _PROVIDER_NAME.fullmatch(name) or name == "mpesa":
        raise ConfigError(f"{t.key('name')}: must be [a-z0-9_-], at most 32 characters, not \"mpesa\"")
    secret = t.string("secret")
    if len(secret) < 16:
        raise ConfigError(f"{t.key('secret')}: must be at least 16 characters")
    hook = WebhookProviderConfig(
        name=name, secret=secret,
        scheme=t.choice("scheme", SIGNATURE_SCHEMES, d.scheme),
        signature_header=t.string("signature_header", d.signature_header),
        timestamp_header=t.string("timestamp_header", d.timestamp_header),
        replay_window=t.integer("replay_window", d.replay_window, minimum=1),
    )
    t.finish()
    return hook


def parse_payments(t: Table) -> PaymentsConfig:
    d = PaymentsConfig()
    mpesa = _parse_mpesa(t.table("mpesa")) if "mpesa" in t else None
    hooks = [_parse_webhook(w) for w in t.tables("webhooks")]
    if len({h.name for h in hooks}) != len(hooks):
        raise ConfigError(f"{t.key('webhooks')}: provider names must be unique")
    payments = PaymentsConfig(
        mpesa=mpesa, webhooks=tuple(hooks),
        reconcile_interval=t.number("reconcile_interval", d.reconcile_interval, positive=True),
        query_after=t.number("query_after", d.query_after, positive=True),
        give_up_after=t.number("give_up_after", d.give_up_after, positive=True),
        apply_retries=t.integer("apply_retries", d.apply_retries, minimum=1),
    )
    t.finish()
    return payments


def parse_portal(t: Table, base_dir: Path | None = None) -> PortalConfig:
    d = PortalConfig()

    def path(name: str) -> str | None:
        value = t.optional_str(name)
        return None if value is None or base_dir is None else str(base_dir / value)

    portal = PortalConfig(
        enabled=t.boolean("enabled", d.enabled),
        title=t.string("title", d.title),
        css=path("css"),
        logo=path("logo"),
        rate_limit=t.integer("rate_limit", d.rate_limit, minimum=1),
        currency_label=t.string("currency_label", "", empty=True),
        router_hosts=t.str_list("router_hosts", ()),
    )
    t.finish()
    return portal


def parse_notify(t: Table) -> NotifyConfig:
    d = NotifyConfig()
    url = t.optional_str("webhook_url")
    if url is not None and not url.startswith(("http://", "https://")):
        raise ConfigError(f"{t.key('webhook_url')}: must be an http:// or https:// URL")
    notify = NotifyConfig(
        webhook_url=url,
        timeout=t.number("timeout", d.timeout, positive=True),
        expiry_notice_hours=t.integer("expiry_notice_hours", d.expiry_notice_hours, minimum=1),
        interval=t.number("interval", d.interval, positive=True),
    )
    t.finish()
    return notify


__all__ = ["MPESA_TRANSACTION_TYPES", "MpesaConfig", "NotifyConfig", "PaymentsConfig", "PortalConfig",
           "WebhookProviderConfig", "parse_notify", "parse_payments", "parse_portal"]
