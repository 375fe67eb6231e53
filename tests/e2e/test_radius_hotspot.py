"""The daemon as a hotspot's RADIUS server, radclient as the Mikrotik router (issue 11 Tests): voucher login
by PAP and CHAP with what remains in the Access-Accept, accounting with growing cumulative counters and a
Gigawords wrap, Stop, two devices sharing one allowance, a voucher bound to another MAC, refusals."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest

from tests.support.hotspot_daemon import SECRET, hotspot_daemon
from tests.support.radclient import needs_radclient, radclient

pytestmark = [pytest.mark.e2e, pytest.mark.integration, needs_radclient]
GIB = 1 << 32


@pytest.fixture(scope="module")
def hs(tmp_path_factory):
    with hotspot_daemon(tmp_path_factory.mktemp("hs")) as h:
        h.cli("hotspot", "package", "create", "--code", "h1", "--name", "1 hour", "--time-seconds", "3600",
              "--data-octets", str(10 * GIB), "--rate-limit", "2M/4M", "--validity-hours", "24", "--devices", "2",
              "--price", "100")
        yield h


def login(hs, code, mac="AA:BB:CC:00:00:01", chap=False, password=None):
    attrs = {"User-Name": code, ("CHAP-Password" if chap else "User-Password"): password or code,
             "Calling-Station-Id": mac, "NAS-IP-Address": "127.0.0.1"}
    return asyncio.run(radclient(hs.auth_port, "auth", SECRET, attrs))


def acct(hs, code, klass, sid, status, inp=0, outp=0, time_=0, in_gw=0, out_gw=0, mac="AA:BB:CC:00:00:01"):
    attrs = {"User-Name": code, "Acct-Status-Type": status, "Acct-Session-Id": sid, "Class": klass,
             "Acct-Input-Octets": str(inp), "Acct-Output-Octets": str(outp), "Acct-Input-Gigawords": str(in_gw),
             "Acct-Output-Gigawords": str(out_gw), "Acct-Session-Time": str(time_), "Calling-Station-Id": mac,
             "Framed-IP-Address": "10.5.50.2", "NAS-IP-Address": "127.0.0.1"}
    return asyncio.run(radclient(hs.acct_port, "acct", SECRET, attrs))


def voucher(hs, *extra):
    return hs.cli("voucher", "generate", "--package", "h1", "--count", "1", *extra)["codes"][0]


def test_pap_and_chap_login_then_accounting_deducts_positive_deltas(hs):
    code = voucher(hs)
    pap = login(hs, code)
    assert pap.code == "Access-Accept", pap.output
    a = pap.attributes
    assert a["Session-Timeout"] == "3600" and a["Acct-Interim-Interval"] == "60"
    assert a["Mikrotik-Rate-Limit"] == "2M/4M"
    assert (a["Mikrotik-Total-Limit"], a["Mikrotik-Total-Limit-Gigawords"]) == ("0", "10")
    assert "Message-Authenticator" in a
    chap = login(hs, code, chap=True)
    assert chap.code == "Access-Accept", chap.output
    klass = a["Class"]
    assert acct(hs, code, klass, "s1", "Start").code == "Accounting-Response"
    assert acct(hs, code, klass, "s1", "Interim-Update", 1000, 2000, 60).code == "Accounting-Response"
    # the input counter wraps: 2^32 + 5 octets in all; the Gigawords carry the high part
    assert acct(hs, code, klass, "s1", "Interim-Update", 5, 3000, 120, in_gw=1).code == "Accounting-Response"
    shown = hs.cli("voucher", "show", code)
    assert shown["status"] == "online" and len(shown["sessions"]) == 1
    assert shown["time_left_seconds"] == 3600 - 120
    assert shown["data_left_octets"] == 10 * GIB - (GIB + 5 + 3000)
    # a reordered/replayed older interim deducts nothing
    assert acct(hs, code, klass, "s1", "Interim-Update", 1000, 2000, 60).code == "Accounting-Response"
    assert hs.cli("voucher", "show", code)["time_left_seconds"] == 3600 - 120
    assert acct(hs, code, klass, "s1", "Stop", 10, 4000, 150, in_gw=1).code == "Accounting-Response"
    shown = hs.cli("voucher", "show", code)
    assert shown["time_left_seconds"] == 3600 - 150 and shown["sessions"] == []
    assert shown["data_left_octets"] == 10 * GIB - (GIB + 10 + 4000)
    again = login(hs, code)
    assert again.attributes["Session-Timeout"] == str(3600 - 150)  # what remains, not the package total
    left = 10 * GIB - (GIB + 10 + 4000)
    assert int(again.attributes["Mikrotik-Total-Limit-Gigawords"]) * GIB + \
        int(again.attributes["Mikrotik-Total-Limit"]) == left

    async def record() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(hs.dsn)
        try:
            for _ in range(50):
                rows = await conn.fetch("SELECT * FROM hotspot_sessions WHERE acct_session_id = 's1'")
                if rows:
                    return rows
                await asyncio.sleep(0.1)
            return []
        finally:
            await conn.close()
    rows = asyncio.run(record())  # written behind by housekeeping
    assert len(rows) == 1 and rows[0]["session_time"] == 150 and rows[0]["input_octets"] == GIB + 10


def test_two_devices_share_one_allowance_and_a_third_is_refused(hs):
    code = voucher(hs)
    first, second = login(hs, code, "AA:00:00:00:00:01"), login(hs, code, "AA:00:00:00:00:02")
    assert first.code == second.code == "Access-Accept"
    klass = first.attributes["Class"]
    acct(hs, code, klass, "d1", "Start", mac="AA:00:00:00:00:01")
    acct(hs, code, klass, "d2", "Start", mac="AA:00:00:00:00:02")
    acct(hs, code, klass, "d1", "Interim-Update", 100, 100, 300, mac="AA:00:00:00:00:01")
    acct(hs, code, klass, "d2", "Interim-Update", 50, 50, 200, mac="AA:00:00:00:00:02")
    shown = hs.cli("voucher", "show", code)
    assert shown["time_left_seconds"] == 3600 - 500  # time counts once per device online
    assert shown["data_left_octets"] == 10 * GIB - 300  # data summed
    third = login(hs, code, "AA:00:00:00:00:03")
    assert third.code == "Access-Reject"
    assert third.attributes["Reply-Message"] == "Too many devices are online with this code"
    assert login(hs, code, "AA:00:00:00:00:01").code == "Access-Accept"  # a device online logs in again


def test_voucher_bound_to_another_mac_and_unknown_code_are_refused_readably(hs):
    code = voucher(hs, "--bind-mac")
    assert login(hs, code, "AA:00:00:00:01:01").code == "Access-Accept"
    other = login(hs, code, "AA:00:00:00:01:02")
    assert other.code == "Access-Reject"
    assert other.attributes["Reply-Message"] == "This code is in use on another device"
    assert hs.cli("voucher", "show", code)["bound_mac"] == "AA:00:00:00:01:01"
    unknown = login(hs, "NOSUCHCODE")
    assert unknown.attributes["Reply-Message"] == "Unknown code or wrong password"
    wrong = login(hs, code, "AA:00:00:00:01:01", chap=True, password="not-it")
    assert wrong.code == "Access-Reject"


def test_subscriber_buys_a_package_with_airtime_and_logs_in_with_msisdn_and_pin(hs):
    imsi, msisdn = "001019900000001", "15559900001"
    hs.cli("subscriber", "add", "--imsi", imsi, "--msisdn", msisdn, "--k", "465b5ce8b199b49faa5f0a2ee238a6bc",
           "--opc", "cd63cb71954a9f4e48a5994e37a02baf")
    hs.cli("account", "topup", "--msisdn", msisdn, "--amount-minor", "150", "--ref", "t-1")
    bought = hs.cli("hotspot", "package", "purchase", "--msisdn", msisdn, "--package", "h1", "--pin", "4321",
                    "--ref", "hs-1")
    assert bought["ok"] and bought["price"] == 100
    assert hs.cli("account", "show", "--msisdn", msisdn)["balance"] == 50
    assert login(hs, msisdn, chap=True, password="4321").code == "Access-Accept"
    assert login(hs, msisdn, chap=True, password="1234").attributes["Reply-Message"] == \
        "Unknown code or wrong password"
    poor = hs.cli("hotspot", "package", "purchase", "--msisdn", msisdn, "--package", "h1", "--pin", "4321",
                  "--ref", "hs-2", check=False)
    assert poor["ok"] is False  # 50 left: cannot pay 100


def test_a_duplicated_interim_gets_the_same_reply_and_deducts_once(hs):
    import socket

    from pyrad.packet import AcctPacket

    from radius.dictionary import load_dictionary
    code = voucher(hs)
    klass = login(hs, code).attributes["Class"]
    pkt = AcctPacket(id=42, secret=SECRET.encode(), dict=load_dictionary())
    for name, value in (("User-Name", code), ("Acct-Status-Type", "Interim-Update"), ("Acct-Session-Id", "dup"),
                        ("Class", bytes.fromhex(klass[2:])), ("Acct-Session-Time", 30), ("Acct-Input-Octets", 7)):
        pkt[name] = value
    raw = pkt.RequestPacket()
    before = hs.metric("ocsd_radius_requests_total", {"client": "router-1", "outcome": "duplicate"})
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.settimeout(5)
        replies = []
        for _ in range(2):  # the NAS retransmits: same source port, Identifier and authenticator
            sock.sendto(raw, ("127.0.0.1", hs.acct_port))
            replies.append(sock.recv(4096))
    assert replies[0] == replies[1] and replies[0][0] == 5  # Accounting-Response, byte for byte the same
    assert hs.metric("ocsd_radius_requests_total", {"client": "router-1", "outcome": "duplicate"}) == before + 1
    shown = hs.cli("voucher", "show", code)
    assert shown["time_left_seconds"] == 3600 - 30 and shown["data_left_octets"] == 10 * GIB - 7


def test_voucher_batch_to_csv(hs, tmp_path):
    out = tmp_path / "v.csv"
    done = hs.cli("voucher", "generate", "--package", "h1", "--count", "3", "--out", str(out))
    assert done["count"] == 3
    rows = out.read_text().splitlines()
    assert rows[0] == "code,package" and len(rows) == 4 and len({r.split(",")[0] for r in rows[1:]}) == 3


def test_a_blocked_account_is_refused_until_unblocked(hs):
    code = voucher(hs)
    account = hs.cli("voucher", "show", code)["account"]
    hs.cli("account", "block", account, "--reason", "abuse")
    refused = login(hs, code)
    assert refused.code == "Access-Reject"  # RFC 2865 §4.3, with a Reply-Message (§5.18) saying why
    assert refused.attributes["Reply-Message"] == "This account is blocked"
    hs.cli("account", "unblock", account)
    assert login(hs, code).code == "Access-Accept"
