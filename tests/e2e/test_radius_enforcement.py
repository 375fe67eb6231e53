"""Enforcement mid-session (issue 11 point 5) against test routers: a voucher used up by an interim gets a
Disconnect-Request that the router ACKs; a router that never answers gets the retransmissions and the outcome
is recorded as a timeout; the reaper ends a session whose time ran out between interims; the operator's
`hotspot session disconnect`; Accounting-On closes the router's sessions."""

from __future__ import annotations

import asyncio
import hashlib
import time

import asyncpg
import pytest
from pyrad.packet import Packet

from radius.dictionary import load_dictionary
from tests.e2e.test_radius_hotspot import acct, login
from tests.support.hotspot_daemon import SECRET, RouterListener, free_udp_port, hotspot_daemon
from tests.support.radclient import needs_radclient

pytestmark = [pytest.mark.e2e, pytest.mark.integration, needs_radclient]


@pytest.fixture(scope="module")
def hs(tmp_path_factory):
    coa_port = free_udp_port()
    with hotspot_daemon(tmp_path_factory.mktemp("hse"), coa_port=coa_port) as h:
        h.coa_port = coa_port
        for code, seconds in (("t100", 100), ("t2", 2), ("long", 3600)):
            h.cli("hotspot", "package", "create", "--code", code, "--name", code, "--time-seconds", str(seconds),
                  "--rate-limit", "1M/1M", "--validity-hours", "1", "--price", "10")
        yield h


def voucher(hs, package):
    return hs.cli("voucher", "generate", "--package", package, "--count", "1")["codes"][0]


def dynauth_rows(hs, session_id, want=1, wait=15.0):
    async def fetch():
        conn = await asyncpg.connect(hs.dsn)
        try:
            deadline = time.monotonic() + wait
            while True:
                rows = await conn.fetch("SELECT * FROM hotspot_dynauth WHERE acct_session_id = $1 ORDER BY id",
                                        session_id)
                if len(rows) >= want or time.monotonic() > deadline:
                    return rows
                await asyncio.sleep(0.1)
        finally:
            await conn.close()
    return asyncio.run(fetch())


def online(hs, code, package_sid):
    ok = login(hs, code)
    assert ok.code == "Access-Accept", ok.output
    klass = ok.attributes["Class"]
    assert acct(hs, code, klass, package_sid, "Start").code == "Accounting-Response"
    return klass


def test_used_up_voucher_gets_a_disconnect_request_that_the_router_acks(hs):
    router = RouterListener(hs.coa_port)
    try:
        code = voucher(hs, "t100")
        klass = online(hs, code, "x-ack")
        assert acct(hs, code, klass, "x-ack", "Interim-Update", 10, 10, 100).code == "Accounting-Response"
        rows = dynauth_rows(hs, "x-ack")
        assert [(r["kind"], r["outcome"], r["sends"], r["reason"]) for r in rows] == [("disconnect", "ack", 1,
                                                                                      "exhausted")]
        raw = next(r for r in router.received if b"x-ack" in r)
        assert raw[0] == 40  # RFC 5176 Disconnect-Request
        assert hashlib.md5(raw[:4] + bytes(16) + raw[20:] + SECRET.encode()).digest() == raw[4:20]
        pkt = Packet(secret=SECRET.encode(), dict=load_dictionary(), packet=raw)
        assert pkt["User-Name"] == [code] and pkt["Acct-Session-Id"] == ["x-ack"]
        assert pkt["Framed-IP-Address"] == ["10.5.50.2"] and pkt["NAS-IP-Address"] == ["127.0.0.1"]
        pkt.authenticator = bytes(16)
        assert pkt.verify_message_authenticator(original_authenticator=bytes(16))
        refused = login(hs, code)
        assert refused.attributes["Reply-Message"] == "This code is used up"
    finally:
        router.close()


def test_a_router_that_never_answers_gets_retransmissions_then_a_recorded_timeout(hs):
    router = RouterListener(hs.coa_port, answer=False)
    try:
        code = voucher(hs, "t100")
        klass = online(hs, code, "x-silent")
        acct(hs, code, klass, "x-silent", "Interim-Update", 10, 10, 150)
        rows = dynauth_rows(hs, "x-silent")
        assert [(r["outcome"], r["sends"], r["reason"]) for r in rows] == [("timeout", 3, "exhausted")]  # 1 + retries
        mine = [r for r in router.received if b"x-silent" in r]
        assert len(mine) == 3 and len(set(mine)) == 1  # the same datagram each time (RFC 5176 §2.3)
    finally:
        router.close()


def test_reaper_ends_a_session_whose_time_ran_out_between_interims(hs):
    router = RouterListener(hs.coa_port)
    try:
        code = voucher(hs, "t2")
        online(hs, code, "x-reap")
        rows = dynauth_rows(hs, "x-reap")
        assert [(r["outcome"], r["reason"]) for r in rows] == [("ack", "reaper")]
    finally:
        router.close()


def test_operator_disconnect_and_accounting_on_close_sessions(hs):
    router = RouterListener(hs.coa_port)
    try:
        code = voucher(hs, "long")
        online(hs, code, "x-op")
        listed = hs.cli("hotspot", "session", "list")
        assert "x-op" in [s["acct_session_id"] for s in listed]
        assert hs.cli("hotspot", "session", "disconnect", "x-op")["outcome"] == "ack"
        assert router.received[-1][0] == 40
        missing = hs.cli("hotspot", "session", "disconnect", "nope", check=False)
        assert missing["ok"] is False
        from tests.support.radclient import radclient
        on = asyncio.run(radclient(hs.acct_port, "acct", SECRET, {"Acct-Status-Type": "Accounting-On",
                                                                  "NAS-IP-Address": "127.0.0.1"}))
        assert on.code == "Accounting-Response"
        assert "x-op" not in [s["acct_session_id"] for s in hs.cli("hotspot", "session", "list")]
    finally:
        router.close()


def test_throttle_sends_a_coa_with_the_lower_rate_limit(tmp_path):
    coa_port = free_udp_port()
    with hotspot_daemon(tmp_path, radius_extra='on_exhausted = "throttle"\nthrottle_rate_limit = "32k/32k"',
                        coa_port=coa_port) as h:
        h.cli("hotspot", "package", "create", "--code", "t100", "--name", "t", "--time-seconds", "100",
              "--rate-limit", "1M/1M", "--validity-hours", "1", "--price", "10")
        router = RouterListener(coa_port)
        try:
            code = voucher(h, "t100")
            klass = online(h, code, "x-coa")
            acct(h, code, klass, "x-coa", "Interim-Update", 1, 1, 100)
            rows = dynauth_rows(h, "x-coa")
            assert [(r["kind"], r["outcome"]) for r in rows] == [("coa", "ack")]
            raw = next(r for r in router.received if b"x-coa" in r)
            pkt = Packet(secret=SECRET.encode(), dict=load_dictionary(), packet=raw)
            assert raw[0] == 43 and pkt["Mikrotik-Rate-Limit"] == ["32k/32k"]  # RFC 5176 CoA-Request
        finally:
            router.close()
