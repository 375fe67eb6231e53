"""The operator's side of Gy end to end (issue 9), the daemon as OCS and python-diameter as the PGW: a blocked
account and a barred SIM refused with 4010 and re-authorized by RAR when unblocked; the RAA recorded on the
session, an RAA 5002 closing it; ASR from the CLI: ASA 2001 leaves the session `terminating` until the reaper
closes it past `[gy] session_grace`, ASA 5002 closes it at once; a T-flagged retransmission (RFC 6733 §3) of a
CCR-U sent as raw bytes gets the first answer again and is charged once."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import redis

from ocs.charging.model import Tariff, Unit
from tests.e2e.test_gy import ocsd_cli, wait_for
from tests.integration.conftest import REDIS_URL, create_database, drop_database
from tests.support.daemon_process import DaemonProcess, backends_config, free_port, write_config
from tests.support.gy_pgw import (
    INITIAL,
    TERMINATION,
    UPDATE,
    Pgw,
    account_view,
    by_rg,
    data_tariff,
    mscc,
    provision,
    run,
)
from tests.support.gy_raw import RawGyPeer, answer_values

pytestmark = [pytest.mark.e2e, pytest.mark.integration]

GRANT = 100_000
RG = 10
GRACE = 2  # [gy] session_grace, seconds
RAR, ASR = 258, 274


@dataclass
class Ocs:
    daemon: DaemonProcess
    port: int
    dsn: str
    prefix: str
    config: Path
    answers: dict[int, int]  # command code -> the Result-Code the PGW answers the daemon's requests with

    def subscriber(self, balance: int) -> tuple[str, str, str]:
        return run(provision(REDIS_URL, self.prefix, self.dsn, balance=balance))

    def balance(self, account: str) -> tuple[int, int]:
        view = run(account_view(REDIS_URL, self.prefix, account))
        return view.balance, view.held

    def sessions(self, account: str) -> dict[str, Any]:
        return {s["session"]: s for s in ocsd_cli(self.config, "session", "list", "--account", account)}


@pytest.fixture(scope="module")
def ocs(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ocs]:
    tmp_path = tmp_path_factory.mktemp("gyop")
    name = "ocsd_e2e_" + secrets.token_hex(5)
    dsn = asyncio.run(create_database(name))
    prefix = "ocse2e-" + secrets.token_hex(5)
    port = free_port()
    config = write_config(tmp_path / "ocsd.toml", peers=["pgw.test", "raw.test"], diameter_port=port,
                          admin_port=free_port(), applications=("gy",),
                          extra=backends_config(REDIS_URL, prefix, dsn) + f"""
[charging]
currency = "EUR"
reap_interval = 0.5

[gy]
default_rating_group = {RG}
grant_octets = {GRANT}
validity_time = 600
session_grace = {GRACE}
""")
    o = Ocs(DaemonProcess(config, module="ocsd"), port, dsn, prefix, config, {})
    try:
        run(provision(REDIS_URL, prefix, dsn, balance=0, tariffs=[data_tariff(RG), Tariff(30, Unit.EVENTS, 1, 5, 20,
                                                                                             "EUR")]))
        o.daemon.start()
        yield o
    finally:
        o.daemon.kill()
        asyncio.run(drop_database(name))
        r = redis.Redis.from_url(REDIS_URL)
        for key in r.scan_iter(match=prefix + ":*"):
            r.delete(key)


@pytest.fixture(scope="module")
def pgw(ocs: Ocs) -> Iterator[Pgw]:
    p = Pgw(ocs.port, on_request=lambda app, m: p.success(m, ocs.answers.get(m.header.command_code, 2001)))
    try:
        yield p
    finally:
        p.stop()


@pytest.fixture(autouse=True)
def answers_succeed(ocs: Ocs) -> Iterator[None]:
    ocs.answers.clear()
    yield
    ocs.answers.clear()


def requests_to(pgw: Pgw, command: int, after: int) -> list[Any]:
    return [m for m in pgw.received[after:] if m.header.command_code == command]


def test_blocked_account_refused_then_reauthorized_when_unblocked(ocs, pgw):
    imsi, _, account = ocs.subscriber(balance=1000)
    s = pgw.session()
    assert pgw.send(pgw.ccr(s, INITIAL, 0, imsi=imsi, mscc=[mscc(RG)])).result_code == 2001
    out = ocsd_cli(ocs.config, "account", "block", account, "--reason", "unpaid invoice")
    assert (out["ok"], out["account"], out["status"], out["reason"]) == (True, account, "blocked", "unpaid invoice")
    refused = pgw.send(pgw.ccr(pgw.session(), INITIAL, 0, imsi=imsi, mscc=[mscc(RG)]))
    assert refused.result_code == 4010  # DIAMETER_END_USER_SERVICE_DENIED, RFC 4006 §9.1
    update = pgw.send(pgw.ccr(s, UPDATE, 1, mscc=[mscc(RG, used=30_000)]))
    assert update.result_code == 4010 and by_rg(update)[RG].result_code == 4010
    assert by_rg(update)[RG].granted_service_unit is None
    assert ocs.balance(account) == (970, 0)  # what was used is charged, what was held goes back
    before, seen = len(pgw.received), len(ocs.daemon.lines)
    assert ocsd_cli(ocs.config, "account", "unblock", account)["status"] == "active"
    line = ocs.daemon.wait_for("rar-answered", after=seen)
    assert (line["session"], line["result"]) == (s, 2001)
    assert [m.session_id for m in wait_for(lambda: requests_to(pgw, RAR, before))] == [s]
    rar = wait_for(lambda: ocs.sessions(account)[s]["last_rar"])
    assert (rar["result_code"], rar["peer"]) == (2001, "pgw.test") and rar["at"].endswith("Z")
    again = pgw.send(pgw.ccr(s, UPDATE, 2, mscc=[mscc(RG, used=0)]))  # the PGW asks again after the RAR
    assert again.result_code == 2001 and by_rg(again)[RG].granted_service_unit.cc_total_octets == GRANT


def test_barred_subscriber_refused_on_gy(ocs, pgw):
    imsi, msisdn, account = ocs.subscriber(balance=1000)
    assert ocsd_cli(ocs.config, "subscriber", "set", imsi, "--status", "blocked")["ok"]
    for who in ({"imsi": imsi}, {"msisdn": msisdn}):
        assert pgw.send(pgw.ccr(pgw.session(), INITIAL, 0, mscc=[mscc(RG)], **who)).result_code == 4010
    assert ocs.balance(account) == (1000, 0)
    ocsd_cli(ocs.config, "subscriber", "set", imsi, "--status", "active")
    assert pgw.send(pgw.ccr(pgw.session(), INITIAL, 0, imsi=imsi, mscc=[mscc(RG)])).result_code == 2001


def test_raa_5002_closes_the_session(ocs, pgw):
    imsi, _, account = ocs.subscriber(balance=150)
    s = pgw.session()
    pgw.send(pgw.ccr(s, INITIAL, 0, imsi=imsi, mscc=[mscc(RG)]))
    last = pgw.send(pgw.ccr(s, UPDATE, 1, mscc=[mscc(RG, used=GRANT)]))
    assert by_rg(last)[RG].final_unit_indication is not None
    assert ocs.balance(account) == (50, 50)
    ocs.answers[RAR] = 5002  # the PGW no longer knows the session (RFC 6733 §8.3.2)
    seen = len(ocs.daemon.lines)
    ocsd_cli(ocs.config, "account", "topup", "--account", account, "--amount", "5.00", "--ref", "t5002")
    assert ocs.daemon.wait_for("rar-answered", after=seen)["result"] == 5002
    assert wait_for(lambda: s not in ocs.sessions(account))
    assert ocs.balance(account) == (550, 0)  # its reservation went back
    assert pgw.send(pgw.ccr(s, UPDATE, 2, mscc=[mscc(RG, used=0)])).result_code == 5002


def test_asr_2001_leaves_the_session_terminating_until_the_reaper(ocs, pgw):
    imsi, _, account = ocs.subscriber(balance=1000)
    s = pgw.session()
    pgw.send(pgw.ccr(s, INITIAL, 0, imsi=imsi, mscc=[mscc(RG)]))
    answer = ocsd_cli(ocs.config, "session", "terminate", s)
    assert (answer["result"], answer["state"]) == (2001, "terminating")
    assert ocs.sessions(account)[s]["state"] == "terminating"  # RFC 6733 §8.5: waiting for the CCR-T
    assert wait_for(lambda: s not in ocs.sessions(account), timeout=GRACE + 15)  # no CCR-T came: reaped
    assert ocs.balance(account) == (1000, 0)


def test_asr_2001_then_ccr_t_ends_the_session(ocs, pgw):
    imsi, _, account = ocs.subscriber(balance=1000)
    s = pgw.session()
    pgw.send(pgw.ccr(s, INITIAL, 0, imsi=imsi, mscc=[mscc(RG)]))
    assert ocsd_cli(ocs.config, "session", "terminate", s)["state"] == "terminating"
    final = pgw.send(pgw.ccr(s, TERMINATION, 1, mscc=[mscc(RG, requested=False, used=5_000)]))
    assert final.result_code == 2001
    assert ocs.balance(account) == (995, 0) and s not in ocs.sessions(account)


def test_asa_5002_closes_the_session_at_once(ocs, pgw):
    imsi, _, account = ocs.subscriber(balance=1000)
    s = pgw.session()
    pgw.send(pgw.ccr(s, INITIAL, 0, imsi=imsi, mscc=[mscc(RG)]))
    ocs.answers[ASR] = 5002
    answer = ocsd_cli(ocs.config, "session", "terminate", s)
    assert (answer["result"], answer["state"]) == (5002, "closed")
    assert s not in ocs.sessions(account) and ocs.balance(account) == (1000, 0)


def test_t_flagged_retransmission_of_a_ccr_u_gets_the_same_answer(ocs):
    imsi, _, account = ocs.subscriber(balance=1000)
    peer = RawGyPeer(ocs.port, "raw.test")
    try:
        s = f"raw.test;{secrets.token_hex(4)}"
        rg = [{"Rating-Group": RG, "Requested-Service-Unit": {}}]
        first = peer.exchange(peer.ccr(s, INITIAL, 0, 1, imsi=imsi, mscc=rg))
        assert answer_values(first)["Result-Code"] == 2001
        used = [{"Rating-Group": RG, "Requested-Service-Unit": {}, "Used-Service-Unit": {"CC-Total-Octets": 40_000}}]
        update = peer.exchange(peer.ccr(s, UPDATE, 1, 2, mscc=used))
        assert answer_values(update)["Result-Code"] == 2001
        assert ocs.balance(account) == (960, 100)
        # the same request again, T flag set (RFC 6733 §3, §6.2): same End-to-End-Id, a new Hop-by-Hop-Id
        again = peer.exchange(peer.ccr(s, UPDATE, 1, 2, mscc=used, retransmit=True))
        assert again[:12] + again[16:] == update[:12] + update[16:] and again[12:16] != update[12:16]
        # a T-flagged copy under another End-to-End-Id (sent on after a failover): the Session-Id and
        # CC-Request-Number answer it from the session's answer cache, the same CCA
        other = peer.exchange(peer.ccr(s, UPDATE, 1, 3, mscc=used, retransmit=True))
        assert other[:12] + other[20:] == update[:12] + update[20:]
        assert ocs.balance(account) == (960, 100)  # charged once
    finally:
        peer.close()
