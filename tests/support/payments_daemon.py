"""The real daemon with M-Pesa pointed at the fake Daraja (tests/support/fake_daraja.py), two signed-webhook
providers, the captive portal and the notification webhook: a module-scoped fixture `pay` for the payment
end-to-end tests and the portal's browser test."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.integration.conftest import REDIS_URL, create_database, drop_database
from tests.support.daemon_process import ROOT, DaemonProcess, backends_config, free_port, write_config
from tests.support.fake_daraja import CONSUMER_KEY, CONSUMER_SECRET, PASSKEY, SHORTCODE, FakeDaraja

ADMIN = {"Authorization": "Bearer test-token"}
PATH_TOKEN = "hook-" + secrets.token_urlsafe(16)
HMAC_SECRET = "hmac-secret-" + secrets.token_hex(8)
FLW_HASH = "flw-secret-hash-" + secrets.token_hex(8)
K, OP = "465b5ce8b199b49faa5f0a2ee238a6bc", "cdc202d5123e20f62b6d676ac72cb318"


@dataclass
class Pay:
    config: Path
    daemon: DaemonProcess
    fake: FakeDaraja
    http: httpx.Client
    base_url: str
    payments_token: dict[str, str]
    operator_token: dict[str, str]

    def ocsd(self, *args: str) -> subprocess.CompletedProcess[str]:
        return ocsd(self.config, *args)

    def sim(self, msisdn: str) -> str:
        """A SIM with `msisdn` and its own account (KES); the account id."""
        imsi = "00101" + msisdn[-10:]
        r = self.http.post("/api/v1/subscribers", headers=ADMIN, json={"imsi": imsi, "msisdn": msisdn, "k": K,
                                                                         "op": OP})
        assert r.status_code == 201, r.text
        return str(r.json()["account"])

    def balance(self, account: str) -> int:
        r = self.http.get(f"/api/v1/accounts/{account}", headers=ADMIN)
        assert r.status_code == 200, r.text
        return int(r.json()["balance"])

    def stk(self, msisdn: str, for_: str, amount: int | None = None, **more: Any) -> dict[str, Any]:
        r = self.http.post("/api/v1/payments/mpesa/stk", headers=self.payments_token,
                           json={"msisdn": msisdn, "for": for_, "amount": amount, **more})
        assert r.status_code == 202, r.text
        return dict(r.json())

    def payment(self, payment_id: str) -> dict[str, Any]:
        r = self.http.get(f"/api/v1/payments/{payment_id}", headers=ADMIN)
        assert r.status_code == 200, r.text
        return dict(r.json())

    def wait_final(self, payment_id: str, timeout: float = 15.0) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            p = self.payment(payment_id)
            if p["status"] in ("applied", "failed", "mismatch") or time.monotonic() > deadline:
                return p
            time.sleep(0.1)


def ocsd(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.run([sys.executable, "-c", "from ocs.cli import main; main()", *args, "-c", str(config)],
                          capture_output=True, text=True, env=env, timeout=60, cwd=ROOT)


def payments_config(fake: FakeDaraja, admin: int, reconcile_interval: float = 3600) -> str:
    return f"""
[charging]
currency = "KES"

[payments]
query_after = 0.5
reconcile_interval = {reconcile_interval}

[payments.mpesa]
base_url = "{fake.url}"
consumer_key = "{CONSUMER_KEY}"
consumer_secret = "{CONSUMER_SECRET}"
shortcode = "{SHORTCODE}"
passkey = "{PASSKEY}"
callback_base_url = "http://127.0.0.1:{admin}"
path_token = "{PATH_TOKEN}"

[[payments.webhooks]]
name = "acme"
secret = "{HMAC_SECRET}"

[[payments.webhooks]]
name = "flutterwave"
scheme = "flutterwave"
secret = "{FLW_HASH}"

[portal]
enabled = true
title = "Kijiji Wi-Fi"
router_hosts = ["127.0.0.1"]

[notify]
webhook_url = "{fake.url}/notify"
"""


@contextlib.contextmanager
def running(tmp: Path, *, reconcile_interval: float = 3600) -> Iterator[Pay]:
    """The daemon with payments, its fake Daraja and a fresh database (`reconcile_interval`: the periodic job)."""
    name = "ocsd_e2e_" + secrets.token_hex(5)
    dsn = asyncio.run(create_database(name))
    fake = FakeDaraja().start()
    admin = free_port()
    config = write_config(tmp / "ocsd.toml", peers=[], diameter_port=free_port(), admin_port=admin,
                          extra=backends_config(REDIS_URL, "ocspay" + secrets.token_hex(3), dsn)
                          + payments_config(fake, admin, reconcile_interval))
    for args in (("bundle", "create", "--code", "d1g", "--name", "1 GB", "--type", "data", "--data-octets",
                  "1000000000", "--validity-days", "7", "--priority", "10", "--price", "100"),
                 ("hotspot", "package", "create", "--code", "day", "--name", "Day pass", "--time-seconds", "86400",
                  "--rate-limit", "2M/4M", "--validity-hours", "24", "--price", "5000"),
                 ("hotspot", "package", "create", "--code", "hour", "--name", "One hour", "--time-seconds", "3600",
                  "--rate-limit", "2M/4M", "--validity-hours", "1", "--price", "1000")):
        done = ocsd(config, *args)
        assert done.returncode == 0, done.stderr + done.stdout
    daemon = DaemonProcess(config, module="ocsd")
    try:
        daemon.start()
        with httpx.Client(base_url=f"http://127.0.0.1:{admin}", timeout=10) as http:
            tokens = {}
            for role in ("payments", "operator"):
                r = http.post("/api/v1/tokens", headers=ADMIN, json={"role": role, "name": f"{role}-e2e"})
                assert r.status_code == 201, r.text
                tokens[role] = {"Authorization": f"Bearer {r.json()['token']}"}
            yield Pay(config, daemon, fake, http, f"http://127.0.0.1:{admin}", tokens["payments"],
                      tokens["operator"])
    finally:
        daemon.stop()
        fake.stop()
        asyncio.run(drop_database(name))


@pytest.fixture(scope="module")
def pay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pay]:
    with running(tmp_path_factory.mktemp("payments")) as p:
        yield p


def ledger(pay: Pay, account: str) -> list[dict[str, Any]]:
    r = pay.http.get(f"/api/v1/accounts/{account}/ledger", headers=ADMIN)
    assert r.status_code == 200, r.text
    return list(r.json()) if isinstance(r.json(), list) else list(r.json()["items"])


__all__ = ["ADMIN", "FLW_HASH", "HMAC_SECRET", "PATH_TOKEN", "Pay", "ledger", "json", "ocsd", "pay", "running"]
