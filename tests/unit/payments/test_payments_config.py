"""`[payments]`, `[payments.mpesa]`, `[[payments.webhooks]]`, `[portal]`, `[notify]`: defaults and clear errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from ocs.config import ConfigError, parse_config
from ocs.payments.service import PaymentRefused, Purchase, normalize_mac
from ocs.portal.routes import RateLimiter

NODE = {"node": {"origin_host": "ocs.test", "origin_realm": "test"}}
MPESA = {"consumer_key": "k", "consumer_secret": "s", "shortcode": "174379", "passkey": "p",
         "callback_base_url": "https://pay.example.com/", "path_token": "t" * 20}


def test_defaults_and_mpesa():
    c = parse_config(NODE)
    assert c.payments.mpesa is None and not c.portal.enabled and c.notify.webhook_url is None
    m = parse_config({**NODE, "payments": {"mpesa": MPESA}}).payments.mpesa
    assert m is not None and m.transaction_type == "CustomerPayBillOnline"
    assert m.callback_base_url == "https://pay.example.com"
    assert "t" * 20 not in repr(m) and "passkey='p'" not in repr(m)  # secrets never printed


def test_portal_paths_are_relative_to_the_config_file():
    c = parse_config({**NODE, "portal": {"enabled": True, "css": "theme.css"}}, base_dir=Path("/etc/ocsd"))
    assert c.portal.css == "/etc/ocsd/theme.css" and c.portal.logo is None


@pytest.mark.parametrize(("doc", "message"), [
    ({"payments": {"mpesa": {**MPESA, "path_token": "short"}}}, "payments.mpesa.path_token"),
    ({"payments": {"mpesa": {**MPESA, "shortcode": "abc"}}}, "payments.mpesa.shortcode"),
    ({"payments": {"mpesa": {**MPESA, "transaction_type": "Other"}}}, "payments.mpesa.transaction_type"),
    ({"payments": {"mpesa": {**MPESA, "typo": 1}}}, "typo"),
    ({"payments": {"webhooks": [{"name": "mpesa", "secret": "s" * 16}]}}, "payments.webhooks[0].name"),
    ({"payments": {"webhooks": [{"name": "a", "secret": "short"}]}}, "payments.webhooks[0].secret"),
    ({"payments": {"webhooks": [{"name": "a", "secret": "s" * 16}, {"name": "a", "secret": "s" * 16}]}},
     "unique"),
    ({"notify": {"webhook_url": "ftp://x"}}, "notify.webhook_url"),
    ({"portal": {"rate_limit": 0}}, "portal.rate_limit"),
])
def test_mistakes_are_named(doc: dict, message: str):
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_config({**NODE, **doc})


def test_purchase_and_mac():
    assert Purchase.parse("topup") == Purchase("topup")
    assert Purchase.parse("hotspot:day") == Purchase("hotspot", "day")
    for bad in ("bundle", "topup:x", "gift:x", ""):
        with pytest.raises(PaymentRefused):
            Purchase.parse(bad)
    assert normalize_mac("aa-bb-cc-dd-ee-ff") == "AA:BB:CC:DD:EE:FF"
    with pytest.raises(PaymentRefused):
        normalize_mac("aa:bb:cc")


def test_rate_limiter_refills():
    now = [0.0]
    limiter = RateLimiter(2, clock=lambda: now[0])
    assert [limiter.allow("ip") for _ in range(3)] == [True, True, False]
    assert limiter.allow("other")
    now[0] += 30.0  # one token back
    assert limiter.allow("ip") and not limiter.allow("ip")
