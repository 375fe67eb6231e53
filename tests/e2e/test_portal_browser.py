"""The captive portal end to end in a real browser (issue 17 point 4): Debian's headless Chromium driven by
Playwright (executablePath /usr/bin/chromium; no browser is downloaded), the real daemon, the fake Daraja and a
fake router login URL. The customer opens the portal as the Mikrotik login page links to it, picks a package,
types a phone number, the fake M-Pesa approves, the page follows the payment live (SSE) and posts the new
voucher, bound to the device's MAC, to the router's login URL."""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.payments_daemon import ADMIN, Pay, pay

pytestmark = [pytest.mark.e2e, pytest.mark.integration]
__all__ = ["pay"]

CHROMIUM = "/usr/bin/chromium"
# Flags for a headless Chromium on a machine without network access or GPU (no background connections).
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
MAC = "AA:BB:CC:DD:EE:61"


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.skip("Debian's chromium is not installed and could not be (scripts/ensure-chromium.sh: "
                    "apt-get install chromium)")
    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright (dev dependency) is not installed")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            yield b
        finally:
            b.close()


def portal_url(pay: Pay, mac: str = MAC) -> str:
    q = urllib.parse.urlencode({"mac": mac, "ip": "10.5.50.2", "link-login-only": f"{pay.fake.url}/login",
                                "dst": "http://example.com/"})
    return f"{pay.base_url}/portal/?{q}"


def test_package_paid_by_mpesa_logs_the_device_in_with_a_voucher_bound_to_its_mac(pay: Pay, browser: Any):
    page = browser.new_page()
    try:
        # a cancelled prompt first: a message a person understands, and the button works again
        pay.fake.scenario["254712000062"] = "cancel"
        page.goto(portal_url(pay))
        assert page.title() == "Kijiji Wi-Fi"
        page.get_by_role("button", name="Day pass").click()
        page.fill("#phone", "0712 000 062")
        page.click("#pay")
        page.wait_for_selector("#status.failed", timeout=15000)
        assert "cancelled" in page.text_content("#status").lower()
        assert pay.fake.logins == []

        page.fill("#phone", "0712000061")
        page.click("#pay")
        page.wait_for_selector("#logged-in", timeout=20000)  # the fake router's page after the form post
    finally:
        page.close()
    assert len(pay.fake.logins) == 1
    login = pay.fake.logins[0]
    assert login["username"] == login["password"] and login["dst"] == "http://example.com/"
    payments = pay.http.get("/api/v1/payments?status=applied", headers=ADMIN).json()["items"]
    paid = [p for p in payments if p["mac"] == MAC]
    assert len(paid) == 1 and paid[0]["voucher"] == login["username"] and paid[0]["for"] == "hotspot:day"
    assert paid[0]["amount"] == 5000 and paid[0]["phone"] == "254712000061"
    shown = pay.ocsd("voucher", "show", login["username"], "--json")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["bound_mac"] == MAC


def test_a_customer_with_a_voucher_types_it(pay: Pay, browser: Any):
    page = browser.new_page()
    try:
        page.goto(portal_url(pay, "AA:BB:CC:DD:EE:62"))
        page.get_by_role("button", name="One hour").wait_for()  # the packages (and router_hosts) are loaded
        page.fill("#voucher", "ABCD2345")
        page.get_by_role("button", name="Connect").click()
        page.wait_for_selector("#logged-in", timeout=10000)
        assert pay.fake.logins[-1]["username"] == "ABCD2345" == pay.fake.logins[-1]["password"]
        logins = len(pay.fake.logins)
        # a link whose login URL is not one of [portal] router_hosts: the voucher is shown, never posted there
        q = urllib.parse.urlencode({"mac": "AA:BB:CC:DD:EE:63", "link-login-only": "http://evil.example/login"})
        page.goto(f"{pay.base_url}/portal/?{q}")
        page.get_by_role("button", name="One hour").wait_for()
        page.fill("#voucher", "ABCD2345")
        page.get_by_role("button", name="Connect").click()
        page.wait_for_selector("#status:not([hidden])", timeout=5000)
        assert "ABCD2345" in page.text_content("#status") and page.url.startswith(pay.base_url)
        assert len(pay.fake.logins) == logins
    finally:
        page.close()


def test_portal_api_is_rate_limited_and_hides_non_portal_payments(pay: Pay):
    r = pay.http.get("/portal/api/packages")
    assert r.status_code == 200
    assert [p["code"] for p in r.json()["packages"]] == ["day", "hour"]
    assert pay.http.get("/portal/api/payments/pay_doesnotexist0000").status_code == 404
    statuses = [pay.http.get("/portal/api/packages").status_code for _ in range(40)]
    assert 429 in statuses
